"""Camera and view-frame conventions (ARCHITECTURE.md 4): known points land on known pixels."""

from __future__ import annotations

import numpy as np
import pytest

from backend.geometry import CAMERA_DISTANCE, FOCAL_NDC, ndc_to_pixel, project_ndc
from training.data.views import View, camera_position, camera_rays, sample_view


def test_front_view_axes():
    v = View(0.0, 0.0, 1.0)
    # azimuth 0 looks at the object's front: object +X is image right, +Y up, +Z toward camera
    np.testing.assert_allclose(v.to_view([[0.1, 0.0, 0.0]]), [[0.1, 0.0, 0.0]], atol=1e-12)
    np.testing.assert_allclose(v.to_view([[0.0, 0.1, 0.0]]), [[0.0, 0.1, 0.0]], atol=1e-12)
    np.testing.assert_allclose(v.to_view([[0.0, 0.0, 0.1]]), [[0.0, 0.0, 0.1]], atol=1e-12)


def test_azimuth_and_elevation_move_the_camera():
    np.testing.assert_allclose(camera_position(90, 0), [CAMERA_DISTANCE, 0, 0], atol=1e-12)
    v = View(90.0, 0.0, 1.0)  # camera on +X: object +X comes toward the camera, +Z goes left
    np.testing.assert_allclose(v.to_view([[0.1, 0, 0]]), [[0, 0, 0.1]], atol=1e-12)
    np.testing.assert_allclose(v.to_view([[0, 0, 0.1]]), [[-0.1, 0, 0]], atol=1e-12)
    up = View(0.0, 40.0, 1.0)  # from above, the top of the object tilts toward the camera
    assert up.to_view([[0, 0.1, 0]])[0, 2] > 0


def test_scale_and_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(20):
        v = sample_view(rng)
        assert -10 <= v.elevation_deg <= 40 and 0.75 <= v.scale <= 1.1
        p = rng.normal(size=(5, 3))
        np.testing.assert_allclose(v.to_object(v.to_view(p)), p, atol=1e-12)
        m = v.matrix
        np.testing.assert_allclose(p @ m[:3, :3].T, v.to_view(p), atol=1e-12)
        np.testing.assert_allclose(np.linalg.det(m[:3, :3]), v.scale**3, rtol=1e-9)


@pytest.mark.parametrize("size", [128, 256])
def test_known_point_known_pixel(size):
    # a view-frame point at depth 1.2 + 0.3 straight along pixel (i, j)'s centre ray
    origin, dirs = camera_rays(size)
    i, j = size // 4, size // 3
    d = dirs[i * size + j]
    p = origin + d * (1.5 / -d[2])
    ndc, depth = project_ndc(p[None])
    col, row = ndc_to_pixel(ndc, size)[0]
    assert int(col) == j and int(row) == i
    np.testing.assert_allclose(depth, 1.5)
    # and the object-frame point 0.1 right of centre in the front view, at depth 1.2
    ndc, _ = project_ndc(View(0, 0, 1).to_view([[0.1, 0, 0]]))
    np.testing.assert_allclose(ndc[0], [FOCAL_NDC * 0.1 / CAMERA_DISTANCE, 0.0])
