"""The reference photo's predicted shape, coarse: what the other photos are placed against.

A 32^3 grid is enough to tell where a photo's camera stands and how large the object looks from
there; the SDF of the whole job is computed later, once. Only grid points inside photo 0's
silhouette (a little dilated) are evaluated: the rest lie outside the object by definition of the
reference view, and skipping them cuts the network's work about threefold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import trimesh
from scipy import ndimage

from ..contract import project
from ..errors import Cancelled
from ..meshing import CHUNK, CancelFn, SdfGrid, grid_axis, marching_cubes
from ..predictors.base import SdfFunction

COARSE_RESOLUTION = 32
SURFACE_POINTS = 3000  # a 64-pixel silhouette from them is within 0.06 IoU of the true one
SILHOUETTE_MARGIN_PX = 2  # dilation of photo 0's mask (model-input pixels) before the cull
# The surface is taken at this SDF level, not at 0: a learned SDF dips towards zero along thin
# parts without crossing it, and at 0 the coarse shape lost them (its silhouette agreed with
# photo 0's own by IoU 0.57 on 6 v1 test shapes, network, 32^3; 0.85 at 0.015, 0.75 at 0.03).
SURFACE_LEVEL = 0.015


@dataclass(frozen=True)
class CoarseShape:
    """Reference view-frame vertices (for exact projected boxes) and surface samples (for
    silhouettes and colours)."""

    vertices: np.ndarray  # float64 [V, 3]
    points: np.ndarray  # float64 [N, 3], area-uniform on the surface


def coarse_shape(sdf: SdfFunction, reference_alpha: np.ndarray, device: torch.device,
                 cancel: CancelFn | None = None, resolution: int = COARSE_RESOLUTION,
                 samples: int = SURFACE_POINTS) -> CoarseShape:
    """The zero level set of ``sdf`` on a coarse grid, culled to photo 0's silhouette
    (``reference_alpha``: the model input's alpha, [S, S] in 0..1); raises the mesher's own
    no_surface error when there is none."""
    grid = culled_grid(sdf, reference_alpha, device, cancel, resolution)
    verts, faces = marching_cubes(
        SdfGrid(grid.values - SURFACE_LEVEL, grid.lo, grid.hi, grid.evaluations))
    return fitted_to_reference(shape_from_mesh(verts, faces, samples), reference_alpha)


def fitted_to_reference(shape: CoarseShape, reference_alpha: np.ndarray) -> CoarseShape:
    """The shape scaled about the object centre so that its projection through photo 0's camera
    is as tall as photo 0's silhouette: the level above, and the coarse grid, make it a little
    larger than the network's surface, and every other photo is framed by this shape's size."""
    rows = np.flatnonzero((reference_alpha > 0.5).any(1))
    if rows.size == 0:
        return shape
    want = (rows.max() + 1 - rows.min()) * 2 / reference_alpha.shape[0]
    _, v, _ = project(shape.vertices[:, 0], shape.vertices[:, 1], shape.vertices[:, 2])
    have = float(v.max() - v.min())
    if have <= 0:
        return shape
    scale = want / have
    return CoarseShape(shape.vertices * scale, shape.points * scale)


@torch.no_grad()
def culled_grid(sdf: SdfFunction, reference_alpha: np.ndarray, device: torch.device,
                cancel: CancelFn | None, resolution: int) -> SdfGrid:
    axis = grid_axis(resolution)
    pts = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    size = reference_alpha.shape[0]
    mask = ndimage.binary_dilation(reference_alpha > 0.5, iterations=SILHOUETTE_MARGIN_PX)
    u, v, _ = project(pts[:, 0], pts[:, 1], pts[:, 2])
    col = np.clip(np.floor((u + 1) / 2 * size).astype(int), 0, size - 1)
    row = np.clip(np.floor((v + 1) / 2 * size).astype(int), 0, size - 1)
    inside = mask[row, col] & (np.abs(u) < 1) & (np.abs(v) < 1)
    cell = float(axis[1] - axis[0])
    values = np.full(len(pts), cell, np.float32)  # outside photo 0's silhouette: outside
    todo = torch.from_numpy(pts[inside]).to(device)
    out = []
    for start in range(0, len(todo), CHUNK // 4):
        if cancel and cancel():
            raise Cancelled()
        out.append(sdf(todo[start:start + CHUNK // 4]).float().cpu())
    if out:
        values[inside] = torch.cat(out).numpy()
    n = resolution + 1
    return SdfGrid(values.reshape(n, n, n), float(axis[0]), float(axis[-1]), int(inside.sum()))


def shape_from_mesh(vertices: np.ndarray, faces: np.ndarray,
                    samples: int = SURFACE_POINTS) -> CoarseShape:
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), process=False)
    pts, _ = trimesh.sample.sample_surface(mesh, samples, seed=0)
    return CoarseShape(np.asarray(mesh.vertices, np.float64), np.asarray(pts, np.float64))
