"""The input image and the 12 slice images of one (shape, view), from one camera.

Both come from Embree ray casts through ``backend.geometry.pixel_rays``: the input from first
hits, the slices from every hit along each ray (slice k shows, per pixel, the nearest hit lying
inside slab k: exactly a render of the geometry inside the slab with open cut faces). Both are
rendered at ``SUPERSAMPLE`` x resolution and box-filtered, which gives anti-aliased alpha.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend.geometry import SLICES_PER_AXIS, Slab, slabs_for_bounds
from training.data.mesh import ShapeMesh
from training.data.raycast import Caster
from training.data.shading import (
    Look,
    albedo,
    shade_photo,
    shading_normals,
    slice_grey,
)
from training.data.views import View, camera_rays

SUPERSAMPLE = 2


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


def render_input(caster: Caster, view: View, look: Look, size: int = 256) -> np.ndarray:
    """The RGBA input image, uint8 [size, size, 4], straight alpha, transparent background."""
    mesh = caster.mesh
    n = size * SUPERSAMPLE
    origin, dirs = camera_rays(n)
    hits = caster.cast(origin, dirs, view, all_hits=False)
    rgb = np.zeros((n * n, 3))
    cov = np.zeros(n * n)
    if len(hits.ray):
        p_obj = view.to_object(hits.point)
        bary = hits.bary
        vn = mesh.meta.get("_vnormals")
        if vn is None and mesh.meta.get("smooth", True):
            vn = mesh.meta["_vnormals"] = mesh.vertex_normals()
        n_obj = shading_normals(mesh, vn, hits.face, bary, caster.face_normals)
        n_view = n_obj @ view.rotation.T
        shadow = None
        if look.shadows:
            light_obj = look.lights[0][0] @ view.rotation
            shadow = caster.occluded(p_obj, light_obj).astype(float)
        alb = albedo(mesh, look, hits.face, bary, p_obj, n_obj)
        rgb[hits.ray] = shade_photo(look, alb, n_view, -dirs[hits.ray], shadow)
        cov[hits.ray] = 1.0
    v, c = _downsample(rgb, cov, size)
    return np.concatenate([_to_u8(v), _to_u8(c)[..., None]], axis=-1)
