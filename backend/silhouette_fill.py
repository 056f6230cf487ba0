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

The depth where a ray's SDF dips lowest is noisy from pixel to pixel: a learned SDF lies flat
near zero along a lost part, so its minimum wanders (on the wheel example, neighbouring missed
pixels' depths differ by 2 grid cells at the median and 8 at the 90th percentile). One sheet per
pixel at its own depth made a staircase of overlapping plates: the fins seen from the side. So
the depths are smoothed within each connected part of the missed pixels before the sheets go in
(a median against outliers, then a Gaussian, both over the part's pixels only), and each grid
point reads its sheet's
depth interpolated between pixel centres rather than its pixel's own, so the sheet is one
continuous surface instead of pixel-wide steps. The cost, measured on validation
(docs/experiments/clean_surfaces.md): where the plates were scattered across a bush's depth
(0ad's berries) they covered it better than one smooth sheet does, and its Chamfer-L1 rose 80%.
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
DEPTH_MEDIAN_PX = 2  # the sheets' depths: median over missed pixels within this many pixels...
DEPTH_SIGMA_PX = 1.5  # ...then a Gaussian of this width (pixels), over missed pixels only


@dataclass(frozen=True)
class SilhouetteFill:
    """What the fill honours: the model input's mask and the sheet's half-thickness."""

    mask: np.ndarray  # bool [S, S], row 0 at the top: the framed model input's alpha > 0.5
    half_thickness: float  # view-frame units


def ray_minima(grid: SdfGrid, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel of a size x size image: the grid's smallest SDF along the pixel's ray through
    the grid, and the view-frame z where it is reached."""
    lo, hi = grid.lo, grid.hi
    g = (np.arange(size) + 0.5) / (size / 2.0) - 1.0  # pixel centres in NDC
    gy, gx = np.meshgrid(g, g, indexing="ij")
    z = np.linspace(hi, lo, DEPTH_SAMPLES)
    x, y, _ = unproject(gx[..., None], gy[..., None], CAMERA_DISTANCE - z)

    def to_unit(a: np.ndarray) -> np.ndarray:
        return (a - lo) / (hi - lo) * 2.0 - 1.0

    zz = np.broadcast_to(z, x.shape)
    # grid_sample's last coordinate indexes the volume's last axis: values are [x, y, z]
    coords = np.stack([to_unit(zz), to_unit(y), to_unit(x)], axis=-1).astype(np.float32)
    volume = torch.from_numpy(np.ascontiguousarray(grid.values, dtype=np.float32))[None, None]
    along = F.grid_sample(volume, torch.from_numpy(coords)[None], mode="bilinear",
                          padding_mode="border", align_corners=True)[0, 0].numpy()
    nearest = along.argmin(axis=-1)
    return along.min(axis=-1), z[nearest]


def fill_missed_rays(grid: SdfGrid, fill: SilhouetteFill) -> tuple[SdfGrid, int]:
    """The grid with a sheet on every masked ray that misses the surface; how many there were."""
    mask = np.asarray(fill.mask, dtype=bool)
    size = mask.shape[0]
    lowest, z_at = ray_minima(grid, size)
    seen = lowest <= 0.0  # the surface's own silhouette
    outline = ndimage.binary_dilation(seen, iterations=OUTLINE_PX) & ~seen
    lost = mask & ~seen & ~outline
    joining = mask & outline & ndimage.binary_dilation(lost, structure=EIGHT_NEIGHBOURS)
    missed = lost | joining
    count = int(missed.sum())
    if not count:
        return grid, 0
    z_at = smoothed_depths(z_at, missed)
    missed, z_at = _widened_to_grid_spacing(missed, z_at, grid)
    z_field = _spread_to_all_pixels(z_at, missed)
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
        col_f, row_f = (u + 1.0) * size / 2.0, (v + 1.0) * size / 2.0  # in pixels
        col, row = np.floor(col_f).astype(np.int64), np.floor(row_f).astype(np.int64)
        xs = np.nonzero((col >= cols.min()) & (col <= cols.max()))[0]
        ys = np.nonzero((row >= rows.min()) & (row <= rows.max()))[0]
        if not len(xs) or not len(ys):
            continue
        r, c = row[ys][None, :], col[xs][:, None]  # [x, y] layout of the grid
        hit = missed[r, c]
        if not hit.any():
            continue
        depth = _bilinear(z_field, row_f[ys], col_f[xs])  # [x, y] like the layer
        sheet = np.abs(z - depth) - fill.half_thickness
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


def smoothed_depths(z_at: np.ndarray, missed: np.ndarray) -> np.ndarray:
    """``z_at`` with the missed pixels' depths smoothed within each connected part of them
    (``_smoothed_part``); other pixels keep their depth. Separate parts (berries, a leg beside
    a leg) lie at depths of their own and must not pull each other's sheets."""
    out = z_at.astype(np.float64).copy()
    labels, _ = ndimage.label(missed, structure=EIGHT_NEIGHBOURS)
    pad = DEPTH_MEDIAN_PX + int(np.ceil(4 * DEPTH_SIGMA_PX))
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        box = tuple(slice(max(b.start - pad, 0), b.stop + pad) for b in box)
        part = labels[box] == label
        window = out[box]
        window[part] = _smoothed_part(z_at[box], part)
    return out


def _smoothed_part(z_at: np.ndarray, part: np.ndarray) -> np.ndarray:
    """The depths of one part's pixels: a median over the part's pixels within
    ``DEPTH_MEDIAN_PX`` (an outlier would pull a Gaussian), then a Gaussian normalised over
    the part."""
    r = DEPTH_MEDIAN_PX
    padded = np.pad(np.where(part, z_at, np.nan), r, constant_values=np.nan)
    h, w = z_at.shape
    window = np.stack([padded[i : i + h, j : j + w]
                       for i in range(2 * r + 1) for j in range(2 * r + 1)])
    with np.errstate(all="ignore"):
        median = np.nanmedian(window[:, part], axis=0)  # a pixel of the part sees itself
    z_med = np.zeros(z_at.shape)
    z_med[part] = median
    weight = ndimage.gaussian_filter(part.astype(np.float64), DEPTH_SIGMA_PX)
    blurred = ndimage.gaussian_filter(z_med, DEPTH_SIGMA_PX)
    return blurred[part] / weight[part]


def _spread_to_all_pixels(z_at: np.ndarray, missed: np.ndarray) -> np.ndarray:
    """Every pixel takes the depth of its nearest missed pixel, so that interpolating between
    pixel centres near a sheet's rim reads only sheet depths."""
    _, (rows, cols) = ndimage.distance_transform_edt(~missed, return_indices=True)
    return z_at[rows, cols]


def _bilinear(field: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``field`` (pixel centres at +0.5) read at continuous pixel positions, as a [cols, rows]
    table (the grid's [x, y] layout)."""
    rr, cc = np.meshgrid(rows - 0.5, cols - 0.5)  # [len(cols), len(rows)]
    return ndimage.map_coordinates(field, [rr, cc], order=1, mode="nearest")
