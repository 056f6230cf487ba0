"""The input image and the 12 slice images of one (shape, view), from one camera.

Both come from Embree ray casts through ``backend.geometry.pixel_rays``: the input from first
hits, the slices from every hit along each ray (slice k shows, per pixel, the nearest hit lying
inside slab k: exactly a render of the geometry inside the slab with open cut faces). Both are
rendered at ``SUPERSAMPLE`` x resolution and box-filtered, which gives anti-aliased alpha.

Under an HDRI the input also casts rays for light: one shadow ray per dominant light (jittered
over the light's disc, so the supersampling softens the edge) and ``AO_RAYS`` cosine-weighted
ambient-occlusion rays per hit. Camera effects (blur, sensor noise, JPEG) come last, on the
colour only: alpha stays the exact coverage, and off the object it is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from backend.geometry import SLICES_PER_AXIS, Slab, slabs_for_bounds
from training.data.mesh import ShapeMesh
from training.data.raycast import Caster, Hits
from training.data.shading import (
    Camera,
    Look,
    albedo,
    shade_ibl,
    shade_photo,
    shading_normals,
    slice_grey,
)
from training.data.views import View, camera_rays

SUPERSAMPLE = 2
AO_RAYS = 3
RAY_OFFSET = 1e-3  # object units off the surface before a shadow or AO ray starts


@dataclass
class Frame:
    """Where the object sits in one view: its view-frame bounding box and the 12 slabs."""

    bmin: np.ndarray
    bmax: np.ndarray
    slabs: list[Slab]

    @property
    def slab_bounds(self) -> np.ndarray:
        return np.array([[s.lo, s.hi] for s in self.slabs], np.float32)


def view_frame(mesh: ShapeMesh, view: View) -> Frame:
    """The object's view-frame bounding box (from its vertices) and its slabs."""
    v = view.to_view(mesh.vertices)
    bmin, bmax = v.min(0), v.max(0)
    return Frame(bmin, bmax, slabs_for_bounds(bmin, bmax))


def slab_index(points_view: np.ndarray, frame: Frame) -> np.ndarray:
    """Slab index 0..3 per axis [N, 3] in the contract order (X left to right, Y top to bottom,
    Z near to far); points on the outer faces of the box fall into the end slabs."""
    ext = np.maximum(frame.bmax - frame.bmin, 1e-9)
    k = np.floor((points_view - frame.bmin) / ext * SLICES_PER_AXIS).astype(np.int64)
    k = np.clip(k, 0, SLICES_PER_AXIS - 1)
    k[:, 1:] = SLICES_PER_AXIS - 1 - k[:, 1:]  # Y and Z walk from the high end down
    return k


def _downsample(value: np.ndarray, cover: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Box-filter supersampled values [S*S, C] with coverage [S*S] into straight-alpha pixels."""
    ss = SUPERSAMPLE
    c = cover.reshape(size, ss, size, ss).mean(axis=(1, 3))
    v = (value * cover[:, None]).reshape(size, ss, size, ss, -1).sum(axis=(1, 3))
    v = v / np.maximum(cover.reshape(size, ss, size, ss).sum(axis=(1, 3)), 1e-9)[..., None]
    return v, c


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def render_slices(caster: Caster, view: View, frame: Frame, size: int = 128) -> np.ndarray:
    """The 12 slices, uint8 [12, size, size, 2] (grey, alpha), in SLICE_NAMES order."""
    n = size * SUPERSAMPLE
    origin, dirs = camera_rays(n)
    hits = caster.cast(origin, dirs, view, all_hits=True)
    out = np.zeros((12, size, size, 2), np.uint8)
    if len(hits.ray) == 0:
        return out
    order = np.lexsort((hits.t, hits.ray))
    ray, face, point = hits.ray[order], hits.face[order], hits.point[order]
    normals = caster.face_normals[face] @ view.rotation.T
    grey = slice_grey(normals, dirs[ray])
    kidx = slab_index(point, frame)
    g = np.zeros((12, n * n))
    cov = np.zeros((12, n * n))
    for axis in range(3):
        # hits are sorted by (ray, t); return_index keeps the first, i.e. nearest, per key
        _, first = np.unique(ray * SLICES_PER_AXIS + kidx[:, axis], return_index=True)
        slot = axis * SLICES_PER_AXIS + kidx[first, axis]  # contract order: slabs are axis-major
        g[slot, ray[first]] = grey[first]
        cov[slot, ray[first]] = 1.0
    ss = SUPERSAMPLE
    c = cov.reshape(12, size, ss, size, ss).sum(axis=(2, 4))
    v = (g * cov).reshape(12, size, ss, size, ss).sum(axis=(2, 4)) / np.maximum(c, 1e-9)
    out[..., 0] = _to_u8(v)
    out[..., 1] = _to_u8(c / ss**2)
    return out


def _tangent_frame(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    helper = np.where(np.abs(n[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    t = np.cross(n, helper)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    return t, np.cross(n, t)


def ambient_occlusion(
    caster: Caster,
    p_obj: np.ndarray,
    n_obj: np.ndarray,
    rng: np.random.Generator,
    sub: np.ndarray | None = None,
) -> np.ndarray:
    """Share of ``AO_RAYS`` cosine-weighted rays per point that escape the object, [N] in 0..1.
    ``sub`` (0..SUPERSAMPLE^2 - 1, the point's place inside its output pixel) interleaves the
    ray azimuths of one pixel's subpixels into one stratified set: far less grain per pixel."""
    t, b = _tangent_frame(n_obj)
    start = p_obj + RAY_OFFSET * n_obj
    free = np.zeros(len(p_obj))
    strata = AO_RAYS * SUPERSAMPLE**2
    offset = np.zeros(len(p_obj), np.float32) if sub is None else (sub * AO_RAYS).astype(np.float32)
    for k in range(AO_RAYS):
        u1 = rng.random(len(p_obj), np.float32)
        u2 = (offset + k + rng.random(len(p_obj), np.float32)) / strata
        r, phi = np.sqrt(u1)[:, None], 2 * np.pi * u2[:, None]
        d = r * np.cos(phi) * t + r * np.sin(phi) * b + np.sqrt(1 - u1)[:, None] * n_obj
        free += ~caster.occluded(start, d)
    return free / AO_RAYS


def light_visibility(
    caster: Caster,
    p_obj: np.ndarray,
    n_obj: np.ndarray,
    direction: np.ndarray,
    radius_deg: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """1 where a ray toward a random point of the light's disc escapes, else 0; [N]."""
    t, b = _tangent_frame(direction[None])  # one frame for the whole disc
    r = np.tan(np.radians(radius_deg)) * np.sqrt(rng.random(len(p_obj)))[:, None]
    phi = 2 * np.pi * rng.random(len(p_obj))[:, None]
    d = direction[None] + r * (np.cos(phi) * t + np.sin(phi) * b)
    lit = n_obj @ direction > 0  # the back side is dark anyway: no ray needed
    vis = np.zeros(len(p_obj))
    if lit.any():
        start = p_obj[lit] + RAY_OFFSET * n_obj[lit]
        vis[lit] = ~caster.occluded(start, d[lit])
    return vis


def _shade_hits(
    caster: Caster,
    view: View,
    look: Look,
    hits: Hits,
    view_dir: np.ndarray,
    sub: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """sRGB colour of every first hit under the look's light (HDRI or analytic); ``sub`` is
    each hit's subpixel index (for the AO strata)."""
    mesh = caster.mesh
    p_obj = view.to_object(hits.point)
    vn = mesh.meta.get("_vnormals")
    if vn is None and mesh.meta.get("smooth", True):
        vn = mesh.meta["_vnormals"] = mesh.vertex_normals()
    n_obj = shading_normals(mesh, vn, hits.face, hits.bary, caster.face_normals)
    alb = albedo(mesh, look, hits.face, hits.bary, p_obj, n_obj)
    if look.env is None:
        shadow = None
        if look.shadows:
            light_obj = look.lights[0][0] @ view.rotation
            shadow = caster.occluded(p_obj, light_obj).astype(float)
        return shade_photo(look, alb, n_obj @ view.rotation.T, view_dir, shadow)
    v_obj = view_dir @ view.rotation
    back = np.einsum("ij,ij->i", n_obj, v_obj) < 0
    n_obj = np.where(back[:, None], -n_obj, n_obj)  # two-sided: open meshes show their inside
    ao = ambient_occlusion(caster, p_obj, n_obj, rng, sub)
    vis = [
        light_visibility(caster, p_obj, n_obj, li.direction, li.radius_deg, rng)
        for li in look.env.lights()
    ]
    return shade_ibl(look, alb, n_obj, v_obj, ao, vis)


def camera_effects(
    rgb: np.ndarray, cover: np.ndarray, cam: Camera, rng: np.random.Generator
) -> np.ndarray:
    """Blur, sensor noise and JPEG on straight-alpha sRGB [H, W, 3]; coverage is left alone
    (the blur mixes colour over covered pixels only, JPEG sees the object on white)."""
    if cam.blur > 0.05:
        a = cover[..., None]
        k = (0, 0)
        num = cv2.GaussianBlur(rgb * a, k, cam.blur, borderType=cv2.BORDER_REPLICATE)
        den = cv2.GaussianBlur(cover, k, cam.blur, borderType=cv2.BORDER_REPLICATE)
        rgb = np.where(a > 0, num / np.maximum(den, 1e-6)[..., None], rgb)
    if cam.noise > 0:
        sigma = cam.noise * (0.3 + 1.4 * np.sqrt(np.clip(rgb, 0, 1)) * 0.5)
        rgb = rgb + sigma * rng.standard_normal(rgb.shape)
    if cam.jpeg:
        flat = np.where(cover[..., None] > 0, rgb, 1.0)
        bgr = _to_u8(flat[..., ::-1])
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, cam.jpeg])
        if ok:
            rgb = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float64) / 255
    return rgb


def render_input(caster: Caster, view: View, look: Look, size: int = 256) -> np.ndarray:
    """The RGBA input image, uint8 [size, size, 4], straight alpha, transparent background."""
    n = size * SUPERSAMPLE
    origin, dirs = camera_rays(n)
    hits = caster.cast(origin, dirs, view, all_hits=False)
    rng = np.random.default_rng(look.seed)
    rgb = np.zeros((n * n, 3))
    cov = np.zeros(n * n)
    if len(hits.ray):
        ss = SUPERSAMPLE
        sub = (hits.ray // n % ss) * ss + hits.ray % n % ss
        rgb[hits.ray] = _shade_hits(caster, view, look, hits, -dirs[hits.ray], sub, rng)
        cov[hits.ray] = 1.0
    v, c = _downsample(rgb, cov, size)
    if look.camera is not None:
        v = camera_effects(v, c, look.camera, rng)
    v = np.where(c[..., None] > 0, v, 0.0)  # nothing but zeros off the object
    return np.concatenate([_to_u8(v), _to_u8(c)[..., None]], axis=-1)
