"""Silhouette fill: every ray through the object's mask must meet the surface.

A learned SDF loses thin parts (wheel spokes, leaves, legs): along their rays it dips towards
zero but stays positive, so marching cubes finds nothing there, although the mask says the object
is there, and the mesh falls apart into fragments. For each masked pixel whose ray misses the
surface, a thin sheet is put into the grid at the depth where the SDF along that ray comes
closest to zero: the network's own guess of where the part lies. Rays that already meet the
surface are left alone, so, unlike growing the whole surface, the fill changes nothing where the
network is right. Nor are the missed pixels that touch the surface's own outline: there the
mask and the surface disagree by a pixel, and sheets along the outline make a jagged fringe
(seen on the photos' side views) without bringing anything back. An outline pixel next to a
filled one is the exception: it joins the sheet to the fragment the lost part grows from, which
would otherwise float a pixel away from it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .contract import CAMERA_DISTANCE, FOCAL_NDC, project, unproject

if TYPE_CHECKING:  # meshing imports the predictors, which carry a SilhouetteFill
    from .meshing import SdfGrid

DEPTH_SAMPLES = 256  # samples along each ray: finer than a 256^3 grid's cells on the rays' span
OUTLINE_PX = 1  # missed pixels this close to the surface's own silhouette get no sheet...
EIGHT_NEIGHBOURS = np.ones((3, 3), dtype=bool)  # ...unless one of these neighbours gets one


@dataclass(frozen=True)
class SilhouetteFill:
    """What the fill honours: the model input's mask and the sheet's half-thickness."""

    mask: np.ndarray  # bool [S, S], row 0 at the top: the framed model input's alpha > 0.5
    half_thickness: float  # view-frame units


def ray_minima(grid: SdfGrid, size: int, where: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of a size x size image: the grid's smallest SDF along the pixel's ray through
    the grid, and the view-frame z where it is reached. ``where`` (bool [size, size]): only
    those pixels' rays are sampled, the others read +inf and z 0 (the fill needs only the
    mask's rays and their neighbours: a third of the image on the example, docs/BENCHMARKS.md)."""
    lo, hi = grid.lo, grid.hi
    rows, cols = np.nonzero(np.ones((size, size), bool) if where is None else where)
    g = (np.arange(size) + 0.5) / (size / 2.0) - 1.0  # pixel centres in NDC
    z = np.linspace(hi, lo, DEPTH_SAMPLES)
    # x depends on the column and z alone, y on the row and z alone: each is worked out once
    # per (column, depth) or (row, depth) and only gathered for the rays sampled
    x, _, _ = unproject(g[:, None], 0.0, CAMERA_DISTANCE - z[None, :])
    _, y, _ = unproject(0.0, g[:, None], CAMERA_DISTANCE - z[None, :])

    def to_unit(a: np.ndarray) -> np.ndarray:
        return (a - lo) / (hi - lo) * 2.0 - 1.0

    # grid_sample's last coordinate indexes the volume's last axis: values are [x, y, z]
    coords = np.empty((len(rows), DEPTH_SAMPLES, 3), dtype=np.float32)
    coords[..., 0], coords[..., 1], coords[..., 2] = (
        to_unit(z)[None, :], to_unit(y)[rows], to_unit(x)[cols])
    volume = torch.from_numpy(np.ascontiguousarray(grid.values, dtype=np.float32))[None, None]
    along = F.grid_sample(volume, torch.from_numpy(coords)[None, None], mode="bilinear",
                          padding_mode="border", align_corners=True)[0, 0, 0].numpy()
    lowest = np.full((size, size), np.inf, dtype=np.float32)
    z_at = np.zeros((size, size))
    if len(rows):
        lowest[rows, cols] = along.min(axis=-1)
        z_at[rows, cols] = z[along.argmin(axis=-1)]
    return lowest, z_at


def fill_missed_rays(grid: SdfGrid, fill: SilhouetteFill) -> tuple[SdfGrid, int]:
    """The grid with a sheet on every masked ray that misses the surface; how many there were."""
    mask = np.asarray(fill.mask, dtype=bool)
    size = mask.shape[0]
    # the rays of the mask and of the pixels beside it, the only ones whose silhouette is read
    lowest, z_at = ray_minima(grid, size, ndimage.binary_dilation(mask, iterations=OUTLINE_PX))
    seen = lowest <= 0.0  # the surface's own silhouette, where the mask can read it
    outline = ndimage.binary_dilation(seen, iterations=OUTLINE_PX) & ~seen
    lost = mask & ~seen & ~outline
    joining = mask & outline & ndimage.binary_dilation(lost, structure=EIGHT_NEIGHBOURS)
    missed = lost | joining
    count = int(missed.sum())
    if not count:
        return grid, 0
    missed, z_at = _widened_to_grid_spacing(missed, z_at, grid)
    values = grid.values.copy()
    axis = np.linspace(grid.lo, grid.hi, grid.resolution + 1, dtype=np.float32)
    rows, cols = np.nonzero(missed)
    # only the grid that can change: the missed pixels' rays, near the sheets' depths (a value
    # two cells beyond a sheet no longer moves marching cubes' vertices)
    reach = fill.half_thickness + 2.0 * (grid.hi - grid.lo) / grid.resolution
    z_lo, z_hi = z_at[missed].min() - reach, z_at[missed].max() + reach
    for k, z in enumerate(axis):
        if not z_lo <= z <= z_hi:
            continue
        u, v, _ = project(axis, axis, z)
        col = np.floor((u + 1.0) * size / 2.0).astype(np.int64)
        row = np.floor((v + 1.0) * size / 2.0).astype(np.int64)
        xs = np.nonzero((col >= cols.min()) & (col <= cols.max()))[0]
        ys = np.nonzero((row >= rows.min()) & (row <= rows.max()))[0]
        if not len(xs) or not len(ys):
            continue
        r, c = row[ys][None, :], col[xs][:, None]  # [x, y] layout of the grid
        hit = missed[r, c]
        if not hit.any():
            continue
        sheet = np.abs(z - z_at[r, c]) - fill.half_thickness
        layer = values[xs[:, None], ys[None, :], k]
        values[xs[:, None], ys[None, :], k] = np.where(hit, np.minimum(layer, sheet), layer)
    return replace(grid, values=values), count


def _widened_to_grid_spacing(
    missed: np.ndarray, z_at: np.ndarray, grid: SdfGrid
) -> tuple[np.ndarray, np.ndarray]:
    """On a grid coarser than the mask (a 64^3 preview: 2 pixels between grid points at the
    object's depth) a one-pixel part can fall between grid points and get no sheet, so the
    missed pixels are widened by the spacing less one pixel (past the mask too: the preview's
    sheets are a pixel wider), each new pixel taking the depth of its nearest missed pixel. At
    128^3 (1 pixel) and finer nothing is widened."""
    size = missed.shape[0]
    spacing_px = FOCAL_NDC * (grid.hi - grid.lo) / grid.resolution / CAMERA_DISTANCE * size / 2
    reach = int(round(spacing_px)) - 1
    if reach < 1:
        return missed, z_at
    distance, (rows, cols) = ndimage.distance_transform_edt(~missed, return_indices=True)
    return distance <= reach, z_at[rows, cols]
