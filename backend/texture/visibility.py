"""What the input camera sees: a depth buffer of the mesh, and a test of points against it.

An occlusion test, not a normal test: a surface that faces the camera but lies behind another
part of the object (the far side of a handle, a leg behind a leg) is not seen.
"""

from __future__ import annotations

import numpy as np

from ..contract import project
from .raster import depth_buffer

DEPTH_SIZE = 512  # depth-buffer pixels a side over the image's NDC square
# A point counts as seen when it is at most this much (view-frame units; the object's diagonal is
# about 1) behind the nearest surface at its pixel: a pixel is about 0.005 units across at the
# object, and grazing triangles change depth quickly within one.
DEPTH_TOLERANCE = 0.015


def to_pixels(u: np.ndarray, v: np.ndarray, size: int) -> np.ndarray:
    """Image NDC (x right, y down, [-1, 1]) to pixel coordinates of a size x size image."""
    return np.stack([(u + 1.0) * 0.5 * size, (v + 1.0) * 0.5 * size], axis=-1)


class CameraDepth:
    """The input camera's depth buffer of one mesh (view frame, ``contract.project``)."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, size: int = DEPTH_SIZE) -> None:
        u, v, d = project(vertices[:, 0], vertices[:, 1], vertices[:, 2])
        pix = to_pixels(u, v, size)
        self.size = size
        self.buffer = depth_buffer(pix[faces], d[faces], size, size)

    def visible(self, points: np.ndarray, tolerance: float = DEPTH_TOLERANCE) -> np.ndarray:
        """True for each view-frame point [N, 3] that no other surface hides from the camera."""
        u, v, d = project(points[:, 0], points[:, 1], points[:, 2])
        pix = to_pixels(u, v, self.size)
        col = np.clip(pix[:, 0].astype(np.int64), 0, self.size - 1)
        row = np.clip(pix[:, 1].astype(np.int64), 0, self.size - 1)
        in_view = (np.abs(u) <= 1.0) & (np.abs(v) <= 1.0) & (d > 0)
        return in_view & (d <= self.buffer[row, col] + tolerance)
