"""Random training views and the object-to-view transform (ARCHITECTURE.md section 4).

The object frame is Y-up with the bounding-box centre at the origin and diagonal 1. A view is an
azimuth, an elevation and a scale; the camera sits ``CAMERA_DISTANCE`` from the origin looking at
it with +Y up. The view frame is the camera frame shifted so the origin is the object centre, so the
object-to-view map is just ``scale * R`` with the rows of ``R`` the camera's x, y, z axes.
The rotation is defined once, in ``backend.multiview.poses``, which places the photos of a
multi-view job with the same camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from backend.geometry import CAMERA_DISTANCE, pixel_rays
from backend.multiview.poses import camera_position, view_rotation  # noqa: F401  (re-exported)

AZIMUTH_RANGE = (0.0, 360.0)
ELEVATION_RANGE = (-10.0, 40.0)
SCALE_RANGE = (0.75, 1.1)


@dataclass(frozen=True)
class View:
    """One camera placement around a normalised object."""

    azimuth_deg: float
    elevation_deg: float
    scale: float

    @property
    def rotation(self) -> np.ndarray:
        return view_rotation(self.azimuth_deg, self.elevation_deg)

    @property
    def matrix(self) -> np.ndarray:
        """4x4 object-to-view transform (includes the per-view scale)."""
        m = np.eye(4)
        m[:3, :3] = self.scale * self.rotation
        return m

    def to_view(self, points_obj: np.ndarray) -> np.ndarray:
        return self.scale * (np.asarray(points_obj, np.float64) @ self.rotation.T)

    def to_object(self, points_view: np.ndarray) -> np.ndarray:
        return (np.asarray(points_view, np.float64) @ self.rotation) / self.scale

    def as_array(self) -> np.ndarray:
        return np.array([self.azimuth_deg, self.elevation_deg, self.scale], np.float32)


def sample_view(rng: np.random.Generator) -> View:
    """A training view as in Slice3D: azimuth any, elevation in [-10, 40] deg, scale 0.75..1.1."""
    return View(
        float(rng.uniform(*AZIMUTH_RANGE)),
        float(rng.uniform(*ELEVATION_RANGE)),
        float(rng.uniform(*SCALE_RANGE)),
    )


@lru_cache(maxsize=8)
def camera_rays(size: int) -> tuple[np.ndarray, np.ndarray]:
    """View-frame ray origin (3,) and unit directions [size*size, 3] through every pixel centre,
    row-major from the top-left pixel (the same camera at every resolution)."""
    d = pixel_rays(size).reshape(-1, 3)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    d.flags.writeable = False  # cached and shared: nobody may edit it
    return np.array([0.0, 0.0, CAMERA_DISTANCE]), d
