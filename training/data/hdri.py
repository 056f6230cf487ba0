"""Image-based light from the CC0 HDRIs that ship in the bpy wheel (studiolights/world/*.exr).

Photos are lit by a whole environment, not by a few point lights. Each map is read once (OpenCV's
EXR reader), area-downsampled to ``MAP_W`` x ``MAP_H`` and cached as .npy under the ignored
``.cache/hdri/``. From it, per map: its dominant light(s) (the energy above a high percentile in
a small cap around the brightest pixels) become directional lights for ray-cast shadows; the rest
(the residual) gives the diffuse light from 9 spherical-harmonic coefficients and a few
prefiltered (cosine-power blurred) copies for glossy reflection looked up by roughness.

Directions are in the object frame (Y up). The equirectangular layout is Blender's, with object
(x, y, z) as Blender world (x, -z, y) (ARCHITECTURE.md section 4): column
u = 1/2 - atan2(-z, x) / 2pi (Blender's 1/2 - atan2(Y, X) / 2pi), row 0 at the zenith.
``Environment.rotation_deg`` is the Z rotation of a Blender world Mapping node
(training/data/cycles.py): a lookup direction is turned by +rotation about +Y
(Blender +Z) before it reads the map, so the lights turn by -rotation.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

MAP_W, MAP_H = 128, 64
NAMES = ("city", "courtyard", "forest", "interior", "night", "studio", "sunrise", "sunset")
REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "hdri"
LIGHT_PERCENTILE = 99.0  # energy above this luminance percentile, near a peak, becomes a light
LIGHT_CAP_DEG = 12.0
MAX_LIGHTS = 2
MIN_LIGHT_SHARE = 0.08  # a light must carry this share of the map's energy
GLOSS_EXPONENTS = (400.0, 90.0, 20.0, 5.0)  # cosine powers of the prefiltered levels
GLOSS_ROUGHNESS = tuple(float((2.0 / (p + 2.0)) ** 0.25) for p in GLOSS_EXPONENTS)


def world_dir() -> Path:
    """The studio-light worlds inside the installed bpy wheel, found without importing bpy."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the bpy package (with its studiolights) is not installed")
    root = Path(list(spec.submodule_search_locations)[0])
    found = sorted(root.glob("*/datafiles/studiolights/world"))
    if not found:
        raise FileNotFoundError(f"no datafiles/studiolights/world under {root}")
    return found[-1]


def read_exr(path: Path) -> np.ndarray:
    """Linear RGB float32 [H, W, 3] through OpenCV's EXR reader (must be enabled before import)."""
    os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    import cv2

    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im is None:
        raise OSError(f"OpenCV could not read {path}")
    return np.ascontiguousarray(im[..., 2::-1], np.float32)


def load_map(name: str) -> np.ndarray:
    """The map downsampled to MAP_H x MAP_W by area averaging (keeps each region's energy)."""
    cached = CACHE / f"{name}_{MAP_W}x{MAP_H}.npy"
    if cached.exists():
        return np.load(cached)
    import cv2

    full = read_exr(world_dir() / f"{name}.exr")
    small = cv2.resize(full, (MAP_W, MAP_H), interpolation=cv2.INTER_AREA).astype(np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(f".{os.getpid()}.npy")
    np.save(tmp, small)
    tmp.replace(cached)  # atomic: parallel workers never read half a file
    return small


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


@lru_cache(maxsize=4)
def map_directions(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Object-frame unit directions [h, w, 3] of pixel centres and their solid angles [h, w]."""
    theta = (np.arange(h) + 0.5) / h * np.pi  # polar angle from +Y
    u = (np.arange(w) + 0.5) / w
    phi = (0.5 - u) * 2 * np.pi  # atan2(-z, x): Blender's atan2(Y, X)
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    d = np.stack([np.cos(phi)[None] * st, np.broadcast_to(ct, (h, w)), -np.sin(phi)[None] * st], -1)
    omega = np.broadcast_to(st * (np.pi / h) * (2 * np.pi / w), (h, w))
    return d, np.ascontiguousarray(omega)


def rotate_y(d: np.ndarray, deg: float) -> np.ndarray:
    """Turn directions [..., 3] by ``deg`` about +Y (right-handed: +X toward -Z)."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    return np.stack([c * d[..., 0] + s * d[..., 2], d[..., 1], -s * d[..., 0] + c * d[..., 2]], -1)


def sample_maps(imgs: list[np.ndarray], d: np.ndarray) -> list[np.ndarray]:
    """Bilinear lookups of equirectangular maps (any sizes) along object-frame directions
    [N, 3]; the angles are computed once for all of them."""
    u = 0.5 - np.arctan2(-d[:, 2], d[:, 0]) / (2 * np.pi)
    v = np.arccos(np.clip(d[:, 1], -1, 1)) / np.pi
    out = []
    for img in imgs:
        h, w = img.shape[:2]
        x = u * w - 0.5
        y = np.clip(v * h - 0.5, 0, h - 1)
        x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
        fx, fy = (x - x0)[:, None], (y - y0)[:, None]
        y1 = np.minimum(y0 + 1, h - 1)
        x0, x1 = x0 % w, (x0 + 1) % w
        top = img[y0, x0] * (1 - fx) + img[y0, x1] * fx
        out.append(top + (img[y1, x0] * (1 - fx) + img[y1, x1] * fx - top) * fy)
    return out


def sample_map(img: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Bilinear lookup of one equirectangular map along object-frame directions [N, 3]."""
    return sample_maps([img], d)[0]


def sh_basis(d: np.ndarray) -> np.ndarray:
    """The 9 real spherical harmonics (bands 0-2) at unit directions [N, 3] -> [N, 9]."""
    x, y, z = d[:, 0], d[:, 1], d[:, 2]
    return np.stack(
        [
            np.full_like(x, 0.282095),
            0.488603 * y,
            0.488603 * z,
            0.488603 * x,
            1.092548 * x * y,
            1.092548 * y * z,
            0.315392 * (3 * z * z - 1),
            1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        1,
    )


SH_BAND = np.array([np.pi] + [2 * np.pi / 3] * 3 + [np.pi / 4] * 5)  # clamped-cosine kernel


def project_sh(img: np.ndarray) -> np.ndarray:
    """SH coefficients [9, 3] of a map's radiance (integral of L Y_i over the sphere)."""
    d, omega = map_directions(*img.shape[:2])
    basis = sh_basis(d.reshape(-1, 3)) * omega.reshape(-1, 1)
    return basis.T @ img.reshape(-1, 3).astype(np.float64)


def sh_diffuse(coeffs: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Irradiance / pi at normals [N, 3]: the radiance a white Lambertian surface sends back."""
    return np.maximum(sh_basis(n) @ (coeffs * SH_BAND[:, None]), 0) / np.pi


def prefilter(img: np.ndarray, exponent: float, size: tuple[int, int] = (32, 16)) -> np.ndarray:
    """The map convolved with a normalised cosine-power lobe, at a small size (a glossy level)."""
    import cv2

    src = cv2.resize(img, (64, 32), interpolation=cv2.INTER_AREA).astype(np.float64)
    d_src, om = map_directions(32, 64)
    d_out, _ = map_directions(size[1], size[0])
    cos = d_out.reshape(-1, 3) @ d_src.reshape(-1, 3).T
    k = np.maximum(cos, 0) ** exponent * om.reshape(1, -1)
    out = (k @ src.reshape(-1, 3)) / np.maximum(k.sum(1, keepdims=True), 1e-12)
    return out.reshape(size[1], size[0], 3).astype(np.float32)


@dataclass(frozen=True)
class Light:
    """A dominant light of a map: object-frame unit direction (unrotated), its energy (the
    integral of its radiance, linear RGB) and its angular radius for soft shadows."""

    direction: np.ndarray
    energy: np.ndarray
    radius_deg: float


def extract_lights(img: np.ndarray) -> tuple[list[Light], np.ndarray]:
    """Split a map into up to MAX_LIGHTS dominant lights and the residual map: the radiance above
    the LIGHT_PERCENTILE luminance inside a cap around each peak goes into its light."""
    d, omega = map_directions(*img.shape[:2])
    lum = luminance(img)
    level = np.percentile(lum, LIGHT_PERCENTILE)
    total = float((lum * omega).sum())
    excess = np.maximum(lum - level, 0) / np.maximum(lum, 1e-12)
    residual = img.copy()
    lights: list[Light] = []
    taken = np.zeros(lum.shape, bool)
    for _ in range(MAX_LIGHTS):
        free = np.where(taken, -1.0, lum)
        peak = d[np.unravel_index(np.argmax(free), lum.shape)]
        cap = (d @ peak > np.cos(np.radians(LIGHT_CAP_DEG))) & ~taken
        part = img * (excess * cap)[..., None]
        w = luminance(part) * omega
        if w.sum() < MIN_LIGHT_SHARE * total:
            break
        taken |= cap
        mean = (d * w[..., None]).sum((0, 1))
        direction = mean / np.linalg.norm(mean)
        spread = np.degrees(np.arccos(np.clip(d[w > 0] @ direction, -1, 1)))
        energy = (part * omega[..., None]).sum((0, 1))
        lights.append(Light(direction, energy, float(max(np.average(spread, weights=w[w > 0]), 1))))
        residual = residual - part
    return lights, residual


@dataclass(frozen=True)
class MapLight:
    """Everything shading needs from one map, computed once per process."""

    name: str
    lights: tuple[Light, ...]
    sh: np.ndarray  # [9, 3] of the residual (unrotated)
    levels: tuple[np.ndarray, ...]  # residual at full size, then the prefiltered levels
    white: float  # 1 / the brightest diffuse light a white surface can get: the exposure norm


@lru_cache(maxsize=len(NAMES))
def map_light(name: str) -> MapLight:
    """Load (or read from the cache) one map and derive its lights, SH and glossy levels."""
    img = load_map(name)
    lights, residual = extract_lights(img)
    sh = project_sh(residual)
    levels = (residual, *(prefilter(residual, p) for p in GLOSS_EXPONENTS))
    probe, _ = map_directions(16, 32)
    probe = probe.reshape(-1, 3)
    diffuse = luminance(sh_diffuse(sh, probe))
    for li in lights:
        diffuse = diffuse + luminance(li.energy) * np.maximum(probe @ li.direction, 0) / np.pi
    return MapLight(name, tuple(lights), sh, levels, float(1.0 / max(diffuse.max(), 1e-9)))


@dataclass(frozen=True)
class Environment:
    """One sample's light: a map, its turn about the vertical and its strength (the world
    strength a Cycles render would use for the same exposure)."""

    name: str
    rotation_deg: float
    strength: float

    @property
    def map(self) -> MapLight:
        return map_light(self.name)

    def _local(self, d: np.ndarray) -> np.ndarray:
        return rotate_y(d, self.rotation_deg)

    def diffuse(self, n: np.ndarray) -> np.ndarray:
        """Residual (unshadowed) diffuse light at object-frame normals [N, 3], linear RGB."""
        return self.strength * sh_diffuse(self.map.sh, self._local(n))

    def glossy(self, r: np.ndarray, roughness: float) -> np.ndarray:
        """Prefiltered residual radiance along reflection directions [N, 3] at one roughness:
        the two nearest levels, blended."""
        levels = self.map.levels
        rough = (0.0, *GLOSS_ROUGHNESS)
        pos = float(np.interp(min(max(roughness, 0.0), rough[-1]), rough, range(len(rough))))
        i0 = min(int(pos), len(levels) - 2)
        f = pos - i0
        lo, hi = sample_maps([levels[i0], levels[i0 + 1]], self._local(r))
        return self.strength * (lo * (1 - f) + hi * f)

    def lights(self) -> list[Light]:
        """The dominant lights turned with the map, energies times the strength."""
        return [
            Light(
                rotate_y(li.direction, -self.rotation_deg), self.strength * li.energy, li.radius_deg
            )
            for li in self.map.lights
        ]


def random_environment(rng: np.random.Generator) -> Environment:
    """A map, a turn about the vertical and an exposure: a white surface facing the brightest
    light lands between 0.6 and 1.5 in linear light (some highlights clip, as in photos)."""
    name = str(rng.choice(NAMES))
    rotation = float(rng.uniform(0, 360))
    gain = float(np.exp(rng.uniform(np.log(0.6), np.log(1.5))))
    return Environment(name, rotation, gain * map_light(name).white)
