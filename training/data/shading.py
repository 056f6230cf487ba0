"""Surface attributes at ray hits and the looks: a varied "photo" look for the input image (image-
based light from an HDRI for most samples, the older analytic studio light for the rest) and the
fixed grey Lambertian look of the slices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.srgb import linear_to_srgb, srgb_to_linear
from training.data.hdri import Environment, random_environment
from training.data.materials import random_texture, sample_bilinear, triplanar
from training.data.mesh import ShapeMesh

SLICE_LIGHT = np.array([-0.35, 0.55, 1.0]) / np.linalg.norm([-0.35, 0.55, 1.0])  # view frame
SLICE_AMBIENT = 0.25
SLICE_BACKFACE = 0.55  # inner (back-facing) surfaces seen through an open cut are darker
HDRI_SHARE = 0.8  # share of input images lit by an HDRI; the rest get the analytic studio light
MAX_PHONG = 4000.0  # sharpest highlight lobe of a direct light (keeps sun glints a few pixels)


def shading_normals(
    mesh: ShapeMesh,
    vnormals: np.ndarray | None,
    face: np.ndarray,
    bary: np.ndarray,
    face_normals: np.ndarray,
) -> np.ndarray:
    """Object-frame normals at hits: smooth where the vertex normals agree with the face, the
    face normal across sharp edges (a 45 degree crease rule), so blocky parts stay crisp."""
    fn = face_normals[face]
    if vnormals is None:
        return fn
    sn = np.einsum("nk,nkd->nd", bary, vnormals[mesh.faces[face]])
    sn = sn / np.maximum(np.linalg.norm(sn, axis=1, keepdims=True), 1e-12)
    sharp = np.einsum("ij,ij->i", sn, fn) < 0.707
    sn[sharp] = fn[sharp]
    return sn


def slice_grey(normals_view: np.ndarray, dirs_view: np.ndarray) -> np.ndarray:
    """Two-sided Lambertian grey in 0..1 for the slices; back faces are darkened."""
    facing = np.einsum("ij,ij->i", normals_view, dirs_view) < 0
    n = np.where(facing[:, None], normals_view, -normals_view)
    g = SLICE_AMBIENT + (1 - SLICE_AMBIENT) * np.clip(n @ SLICE_LIGHT, 0, 1)
    return np.where(facing, g, SLICE_BACKFACE * g)


@dataclass
class Look:
    """One random material + lighting set-up for an input image (view-frame light directions)."""

    base: np.ndarray  # sRGB base colour for untextured meshes
    second: np.ndarray  # second pattern colour
    pattern: str  # none | stripes | checker | noise
    pattern_freq: float
    pattern_axis: int
    tint_strength: float  # how much the base colour tints a given texture / vertex colours
    shininess: float
    specular: float
    metallic: bool
    lights: list[tuple[np.ndarray, np.ndarray]]  # (direction toward light, linear rgb intensity)
    sky: np.ndarray
    ground: np.ndarray
    exposure: float
    shadows: bool
    texture: np.ndarray | None = None  # a real texture mapped triplanar on untextured meshes
    texture_repeats: float = 2.0  # texture repeats per object unit
    texture_tint: float = 0.5  # how much part colours tint that texture
    env: Environment | None = None  # image-based light; None: the analytic lights above
    roughness: float = 0.5  # glossy lobe width under the HDRI (0 mirror .. 1 matte)
    camera: Camera | None = None  # photo effects after shading; None: a clean render
    seed: int = 0  # the render's own random numbers (AO and shadow rays, sensor noise)


@dataclass(frozen=True)
class Camera:
    """What a camera adds after the light: sensor noise (sRGB sigma at mid grey), a slight blur
    (pixels) and JPEG compression (quality; 0 for none)."""

    noise: float
    blur: float
    jpeg: int


def random_camera(rng: np.random.Generator) -> Camera:
    """Mostly mild effects: phone-like noise in 70% of images, JPEG in 35%."""
    noise = float(rng.uniform(0.004, 0.03)) if rng.random() < 0.7 else 0.0
    blur = float(rng.uniform(0.0, 0.8))
    jpeg = int(rng.integers(55, 95)) if rng.random() < 0.35 else 0
    return Camera(noise, blur, jpeg)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def random_colour(rng: np.random.Generator) -> np.ndarray:
    """sRGB colour biased toward real object colours: many muted tones, some saturated, greys."""
    r = rng.random()
    if r < 0.2:
        return np.full(3, rng.uniform(0.1, 0.95))
    s = rng.uniform(0.05, 0.5) if r < 0.7 else rng.uniform(0.5, 1.0)
    return _hsv(rng.random(), s, rng.uniform(0.25, 0.95))


def _light_colour(rng: np.random.Generator) -> np.ndarray:
    warm = rng.uniform(-1, 1) * 0.15
    return np.array([1 + warm, 1.0, 1 - warm])


def _direction(rng: np.random.Generator, front: bool) -> np.ndarray:
    az = np.radians(rng.uniform(-80, 80) if front else rng.uniform(100, 260))
    el = np.radians(rng.uniform(0, 70))
    return np.array([np.sin(az) * np.cos(el), np.sin(el), np.cos(az) * np.cos(el)])


def studio_look(rng: np.random.Generator) -> Look:
    """The material and analytic studio light of a look: ``random_look``'s first draws, and all
    of them before the HDRI light existed (the ``colors`` backfill replays such builds)."""
    key = rng.uniform(1.1, 2.0)
    lights = [(_direction(rng, True), key * _light_colour(rng))]
    for _ in range(rng.integers(0, 3)):
        lights.append(
            (_direction(rng, rng.random() < 0.5), rng.uniform(0.2, 0.9) * _light_colour(rng))
        )
    sky_level = rng.uniform(0.12, 0.4)
    sky = sky_level * (np.array([0.9, 0.95, 1.1]) if rng.random() < 0.5 else np.ones(3))
    return Look(
        base=random_colour(rng),
        second=random_colour(rng),
        pattern=str(rng.choice(["none", "none", "stripes", "checker", "noise"])),
        pattern_freq=float(rng.uniform(4, 20)),
        pattern_axis=int(rng.integers(0, 3)),
        tint_strength=float(rng.uniform(0, 0.35) if rng.random() < 0.3 else 0.0),
        shininess=float(np.exp(rng.uniform(np.log(6), np.log(200)))),
        specular=float(rng.uniform(0.0, 0.6)),
        metallic=bool(rng.random() < 0.12),
        lights=lights,
        sky=sky,
        ground=sky * rng.uniform(0.2, 0.7),
        exposure=float(rng.uniform(0.8, 1.25)),
        shadows=bool(rng.random() < 0.7),
        texture=random_texture(rng) if rng.random() < 0.45 else None,
        texture_repeats=float(np.exp(rng.uniform(np.log(1.0), np.log(6.0)))),
        texture_tint=float(rng.uniform(0.2, 0.8)),
    )


def random_look(rng: np.random.Generator) -> Look:
    """A new material and studio/outdoor-like lighting so the model does not learn one look."""
    look = studio_look(rng)
    look.env = random_environment(rng) if rng.random() < HDRI_SHARE else None
    look.roughness = float(rng.uniform(0.05, 0.9) ** 0.8)
    look.camera = random_camera(rng)
    look.seed = int(rng.integers(2**31))
    return look


def _pattern(look: Look, p_obj: np.ndarray) -> np.ndarray:
    """Pattern mix weight in 0..1 on object-frame points (textures for untextured meshes)."""
    f = look.pattern_freq
    if look.pattern == "stripes":
        return (np.sin(f * np.pi * p_obj[:, look.pattern_axis]) > 0).astype(float)
    if look.pattern == "checker":
        k = np.floor(p_obj * f * 0.5).astype(np.int64).sum(1)
        return (k % 2).astype(float)
    if look.pattern == "noise":
        s = (
            np.sin(f * p_obj[:, 0] + 1.3)
            * np.sin(f * 1.3 * p_obj[:, 1] + 0.7)
            * np.sin(f * 0.8 * p_obj[:, 2] + 2.1)
        )
        s += 0.5 * np.sin(2.7 * f * p_obj[:, 0] + 2.7 * f * p_obj[:, 2])
        return np.clip(0.5 + s, 0, 1)
    return np.zeros(len(p_obj))


def albedo(
    mesh: ShapeMesh,
    look: Look,
    face: np.ndarray,
    bary: np.ndarray,
    p_obj: np.ndarray,
    n_obj: np.ndarray,
) -> np.ndarray:
    """Linear albedo at hits from the mesh's texture, else a real texture mapped triplanar (tinted
    by the vertex colours), else the vertex colours, else the random look's colours."""
    if mesh.texture is not None and mesh.uv is not None:
        uv = np.einsum("nk,nkd->nd", bary, mesh.uv[mesh.faces[face]])
        c = sample_bilinear(mesh.texture, uv[:, 0], uv[:, 1])
        c = (1 - look.tint_strength) * c + look.tint_strength * c * look.base * 1.5
    elif look.texture is not None:
        c = triplanar(look.texture, p_obj, n_obj, look.texture_repeats)
        if mesh.vertex_colors is not None:
            vc = np.einsum("nk,nkd->nd", bary, mesh.vertex_colors[mesh.faces[face]])
            c = c * ((1 - look.texture_tint) + look.texture_tint * 1.8 * vc)
    elif mesh.vertex_colors is not None:
        c = np.einsum("nk,nkd->nd", bary, mesh.vertex_colors[mesh.faces[face]])
        c = (1 - look.tint_strength) * c + look.tint_strength * look.base
        m = _pattern(look, p_obj)[:, None] * 0.35
        c = c * (1 - m) + c * 0.6 * m
    else:
        m = _pattern(look, p_obj)[:, None]
        c = look.base[None] * (1 - m) + look.second[None] * m
    return srgb_to_linear(np.clip(c, 0, 1))


def shade_photo(
    look: Look, alb: np.ndarray, n: np.ndarray, view_dir: np.ndarray, shadow: np.ndarray | None
) -> np.ndarray:
    """Blinn-Phong with a hemisphere ambient; returns sRGB 0..1. ``view_dir`` points to the eye."""
    facing = np.einsum("ij,ij->i", n, view_dir) < 0
    n = np.where(facing[:, None], -n, n)  # two-sided: open meshes show their inner side lit
    up = 0.5 + 0.5 * n[:, 1:2]
    amb = look.sky[None] * up + look.ground[None] * (1 - up)
    diff_w = 0.15 if look.metallic else 1.0
    col = alb * amb * diff_w
    for i, (ldir, lcol) in enumerate(look.lights):
        ndl = np.clip(n @ ldir, 0, None)[:, None]
        if i == 0 and shadow is not None:
            ndl = ndl * (1 - 0.85 * shadow[:, None])
        h = ldir[None] + view_dir
        h = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
        spec = np.clip(np.einsum("ij,ij->i", n, h), 0, None)[:, None] ** look.shininess
        spec_col = alb * 1.5 if look.metallic else np.ones((1, 3))
        spec_w = look.specular * (2.0 if look.metallic else 1.0)
        col = col + lcol[None] * (alb * ndl * diff_w + spec_w * spec_col * spec * (ndl > 0))
    # environment reflection (sky above a horizon, darker ground below), Schlick Fresnel
    ndv = np.clip(np.einsum("ij,ij->i", n, view_dir), 0, 1)[:, None]
    refl_y = (2 * ndv * n - view_dir)[:, 1:2]
    env = np.where(refl_y > 0, look.sky[None] * (1.2 + 0.8 * refl_y), look.ground[None] * 0.8)
    f0 = alb if look.metallic else np.full((1, 3), 0.04)
    fresnel = f0 + (1 - f0) * (1 - ndv) ** 5
    gloss = min(1.0, look.shininess / 150.0)
    col = col + fresnel * env * gloss * (0.5 + look.specular)
    return linear_to_srgb(col * look.exposure)


def env_brdf(f0: np.ndarray, roughness: float, ndv: np.ndarray) -> np.ndarray:
    """Split-sum specular weight of a prefiltered environment (Karis' analytic fit of the GGX
    table): Fresnel and the lobe's shadowing, by roughness and view angle."""
    c0 = np.array([-1.0, -0.0275, -0.572, 0.022])
    c1 = np.array([1.0, 0.0425, 1.04, -0.04])
    r = roughness * c0 + c1
    a004 = np.minimum(r[0] * r[0], np.exp2(-9.28 * ndv)) * r[0] + r[1]
    a = -1.04 * a004 + r[2]
    b = 1.04 * a004 + r[3]
    return f0 * a + b


def shade_ibl(
    look: Look,
    alb: np.ndarray,
    n: np.ndarray,
    view_dir: np.ndarray,
    ao: np.ndarray,
    visible: list[np.ndarray],
) -> np.ndarray:
    """Diffuse + glossy (Fresnel) under the look's HDRI, object-frame normals facing the eye;
    ``ao`` [N] darkens the residual light, ``visible`` [N] per dominant light its shadows.
    Returns sRGB 0..1 (the exposure is in the environment's strength)."""
    env = look.env
    assert env is not None
    ndv = np.clip(np.einsum("ij,ij->i", n, view_dir), 1e-4, 1)[:, None]
    f0 = alb if look.metallic else np.full((1, 3), 0.02 + 0.1 * look.specular)
    spec_w = env_brdf(f0, look.roughness, ndv)
    kd = 0.0 if look.metallic else 1.0 - spec_w.max(1, keepdims=True)
    occ = (0.15 + 0.85 * ao)[:, None]  # AO from a few rays; bounce light keeps some
    diffuse = env.diffuse(n) * occ
    r = 2 * ndv * n - view_dir
    col = kd * alb * diffuse + spec_w * env.glossy(r, look.roughness) * occ
    alpha2 = max(look.roughness**4, 1e-6)
    power = min(2.0 / alpha2 - 2.0, MAX_PHONG)
    for light, vis in zip(env.lights(), visible, strict=True):
        ndl = np.clip(n @ light.direction, 0, None)[:, None] * vis[:, None]
        h = light.direction[None] + view_dir
        h = h / np.maximum(np.linalg.norm(h, axis=1, keepdims=True), 1e-12)
        ndh = np.clip(np.einsum("ij,ij->i", n, h), 0, 1)[:, None]
        vdh = np.clip(np.einsum("ij,ij->i", view_dir, h), 0, 1)[:, None]
        fres = f0 + (1 - f0) * (1 - vdh) ** 5
        lobe = (power + 8) / (8 * np.pi) * ndh**power
        col = col + light.energy[None] * ndl * (kd * alb / np.pi + fres * lobe)
    return linear_to_srgb(col)
