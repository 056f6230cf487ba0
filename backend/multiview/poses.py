"""Camera poses of several photos around one object, and the transforms between their frames.

The one definition of the camera rotation for an azimuth and an elevation: the data engine
(``training/data/views.py``) renders its training views with it, and the backend places the
photos of a multi-view job with it. Object frame: Y up, the object's front facing +Z. Azimuth:
degrees, counter-clockwise seen from above as the camera moves round the object (from the front
toward +X); elevation: degrees above the object's horizontal plane. Every camera looks at the
object's centre from ``CAMERA_DISTANCE`` (ARCHITECTURE.md section 4).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..contract import CAMERA_DISTANCE


def camera_position(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Camera centre in the object frame: azimuth 0 looks at the object's front (+Z side),
    positive azimuth swings the camera toward +X, positive elevation lifts it above."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return CAMERA_DISTANCE * np.array(
        [np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)]
    )


def view_rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rows: the camera's x (right), y (up), z (backward, toward the camera) in the object frame,
    so ``view_rotation @ p`` is an object-frame point in the view frame."""
    z = camera_position(azimuth_deg, elevation_deg)
    z = z / np.linalg.norm(z)
    x = np.cross([0.0, 1.0, 0.0], z)
    x = x / np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z])


def view_transform(azimuth_deg: float, reference_elevation_deg: float,
                   elevation_deg: float) -> np.ndarray:
    """4x4 map from the reference photo's view frame to a photo's view frame.

    ``azimuth_deg`` is the photo's azimuth relative to the reference (whose own is 0); the
    elevations are each photo's own. A rotation: the re-framing makes both photos' scales equal.
    """
    m = np.eye(4)
    m[:3, :3] = (view_rotation(azimuth_deg, elevation_deg)
                 @ view_rotation(0.0, reference_elevation_deg).T)
    return m


def view_transforms(azimuths_deg: Sequence[float],
                    elevations_deg: Sequence[float]) -> list[np.ndarray]:
    """``transforms[k]`` for every photo (the predictor's argument); ``transforms[0]`` is the
    identity when ``azimuths_deg[0]`` is 0."""
    if len(azimuths_deg) != len(elevations_deg):
        raise ValueError("one azimuth and one elevation per photo")
    return [view_transform(a - azimuths_deg[0], elevations_deg[0], e)
            for a, e in zip(azimuths_deg, elevations_deg, strict=True)]


def camera_to_view(transform: np.ndarray) -> np.ndarray:
    """Photo k's camera pose in the reference view frame, from ``transforms[k]``.

    In its own view frame a camera sits at (0, 0, CAMERA_DISTANCE) looking along -z with +y up;
    mapped back into the reference frame that pose is ``inv(transform) @ T(0, 0, d)``.
    """
    at_camera = np.eye(4)
    at_camera[2, 3] = CAMERA_DISTANCE
    return np.linalg.inv(np.asarray(transform, np.float64)) @ at_camera


def matrix_json(matrix: np.ndarray) -> list[list[float]]:
    """A 4x4 matrix as result.json holds it: row-major nested lists, rounded to 6 places."""
    return [[round(float(v), 6) + 0.0 for v in row] for row in np.asarray(matrix)]
