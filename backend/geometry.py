"""The geometry contract every part shares (ARCHITECTURE.md section 4), defined once.

View frame: the camera frame (x right, y up, camera looking along -z) shifted by +CAMERA_DISTANCE
along z, so the object centre is at the origin, +y is image-up and +z points toward the camera.
Image coordinates: normalised device coordinates in [-1, 1] with +x right and +y DOWN (the
convention of ``torch.nn.functional.grid_sample`` with ``align_corners=False``); pixel (i, j) of a
W-wide image covers [j, j+1) x [i, i+1) in pixel units, so NDC -1 is the left edge of pixel 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .contract import (  # noqa: F401  (re-exported: the backend's one place for geometry)
    CAMERA_DISTANCE,
    FOCAL_NDC,
    FOV_DEG,
    LENS_MM,
    MODEL_INPUT_SIZE,
    SDF_BOUND,
    SDF_PAD,
    SENSOR_MM,
    SLICE_AXES,
    SLICE_NAMES,
    SLICES_PER_AXIS,
    frustum_half_width,
    project,
)

# Fraction of the square frame that the object's longer mask side fills after framing: the median
# measured on the training renders (378 views of data/pre1: 2nd..98th percentile 0.41..0.94, the
# mask box's centre within 0.085 of the frame's centre for 98%).
FRAMING_FILL = 0.63
# A square image whose object already sits like a training render keeps its framing, so the
# object's apparent size (which carries its distance, hence scale) is not thrown away.
FRAMING_KEEP_FILL = (0.41, 0.94)
FRAMING_KEEP_OFFSET = 0.085
# ...and only when the object is not bulkier than training objects get: the shorter mask side and
# the mask's share of the frame stay under their 98th percentiles on the v1 training renders
# (1736 views, every 6th train shard: 0.688 and 0.386). A photo filled by a round object (the
# example apple: shorter side 0.83, area 0.60) is otherwise out of range for the network, which
# hollows it out; re-framed to FRAMING_FILL it is in range.
FRAMING_KEEP_SHORT_FILL = 0.69
FRAMING_KEEP_AREA = 0.39


def project_ndc(points_view: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project view-frame points [N,3] to NDC (x right, y down) and return (ndc[N,2], depth[N])."""
    pts = np.asarray(points_view, dtype=np.float64)
    u, v, depth = project(pts[:, 0], pts[:, 1], pts[:, 2])
    return np.stack([u, v], axis=1), depth


def ndc_to_pixel(ndc: np.ndarray, size: int) -> np.ndarray:
    """NDC to continuous pixel coordinates (col, row), origin at the image's top-left corner."""
    return (np.asarray(ndc) + 1.0) * 0.5 * size


def pixel_rays(size: int) -> np.ndarray:
    """Unit-depth view-frame directions through every pixel centre, shape [size, size, 3].

    A point at depth d along pixel (i, j) is ``camera_origin + d * ray[i, j]`` with
    ``camera_origin = (0, 0, CAMERA_DISTANCE)``.
    """
    centres = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    gx, gy = np.meshgrid(centres, centres)
    return np.stack([gx / FOCAL_NDC, -gy / FOCAL_NDC, -np.ones_like(gx)], axis=-1)


@dataclass(frozen=True)
class Slab:
    """One slice slab: geometry with ``lo <= p[axis] < hi`` (view frame) is rendered in it."""

    name: str
    axis: int  # 0 = X, 1 = Y, 2 = Z
    index: int  # 0..3: X left to right, Y top to bottom, Z near to far (ARCHITECTURE.md)
    lo: float
    hi: float


def slabs_for_bounds(bmin: np.ndarray, bmax: np.ndarray) -> list[Slab]:
    """The 12 slabs cutting the object's view-frame bounding box into equal thicknesses.

    Y runs top to bottom (from +y down) and Z near to far (from +z, the camera side, down).
    """
    out: list[Slab] = []
    for axis, letter in enumerate(SLICE_AXES):
        edges = np.linspace(float(bmin[axis]), float(bmax[axis]), SLICES_PER_AXIS + 1)
        if axis in (1, 2):  # top-to-bottom and near-to-far both walk from the high end down
            edges = edges[::-1]
        for k in range(SLICES_PER_AXIS):
            lo, hi = sorted((float(edges[k]), float(edges[k + 1])))
            out.append(Slab(f"{letter}{k + 1}", axis, k, lo, hi))
    return out
