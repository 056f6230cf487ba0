"""backend.geometry: the ARCHITECTURE.md section 4 camera, projection and slab conventions."""

from __future__ import annotations

import numpy as np
import pytest

from backend.geometry import (
    CAMERA_DISTANCE,
    FOCAL_NDC,
    FOV_DEG,
    SLICE_NAMES,
    frustum_half_width,
    ndc_to_pixel,
    pixel_rays,
    project_ndc,
    slabs_for_bounds,
)


def test_camera_constants():
    assert abs(FOV_DEG - 49.13) < 0.01
    assert np.isclose(FOCAL_NDC, 2 * 35 / 32)
    assert CAMERA_DISTANCE == 1.2
    assert SLICE_NAMES == ("X1", "X2", "X3", "X4", "Y1", "Y2", "Y3", "Y4",
                           "Z1", "Z2", "Z3", "Z4")


def test_origin_projects_to_the_image_centre():
    ndc, depth = project_ndc(np.zeros((1, 3)))
    np.testing.assert_allclose(ndc, [[0, 0]])
    assert depth[0] == pytest.approx(CAMERA_DISTANCE)
    np.testing.assert_allclose(ndc_to_pixel(ndc, 128), [[64, 64]])


def test_known_point_lands_on_known_pixel():
    """A point up and to the right of the centre, at the centre's depth, on a hand-made pixel.

    At depth 1.2 the frustum half-width is 1.2 / FOCAL_NDC; a point at x = half of that sits
    three quarters across the image (NDC 0.5), and +y (image-up) lands in the upper half.
    """
    half_width = frustum_half_width(CAMERA_DISTANCE)
    assert half_width == pytest.approx(1.2 * 32 / 70)
    point = np.array([[0.5 * half_width, 0.25 * half_width, 0.0]])
    ndc, _ = project_ndc(point)
    np.testing.assert_allclose(ndc, [[0.5, -0.25]], atol=1e-12)
    np.testing.assert_allclose(ndc_to_pixel(ndc, 128), [[96.0, 48.0]], atol=1e-9)  # (col, row)


def test_perspective_nearer_points_spread_out():
    """+z points toward the camera: the same x at z = +0.3 projects further from the centre."""
    ndc, depth = project_ndc(np.array([[0.1, 0.0, 0.3], [0.1, 0.0, -0.3]]))
    assert depth[0] == pytest.approx(0.9) and depth[1] == pytest.approx(1.5)
    assert ndc[0, 0] > ndc[1, 0] > 0


def test_ndc_edges_are_pixel_edges():
    np.testing.assert_allclose(ndc_to_pixel(np.array([[-1.0, -1.0], [1.0, 1.0]]), 64),
                               [[0, 0], [64, 64]])


def test_pixel_rays_round_trip():
    size = 32
    rays = pixel_rays(size)
    assert rays.shape == (size, size, 3)
    origin = np.array([0.0, 0.0, CAMERA_DISTANCE])
    for i, j, d in [(0, 0, 1.0), (5, 20, 1.3), (31, 31, 0.9), (16, 3, 1.2)]:
        point = origin + d * rays[i, j]
        ndc, depth = project_ndc(point[None])
        assert depth[0] == pytest.approx(d)
        np.testing.assert_allclose(ndc_to_pixel(ndc, size)[0], [j + 0.5, i + 0.5], atol=1e-9)


def test_slabs_follow_the_design_order():
    bmin, bmax = np.array([-0.4, -0.2, -0.1]), np.array([0.4, 0.6, 0.3])
    slabs = slabs_for_bounds(bmin, bmax)
    assert [s.name for s in slabs] == list(SLICE_NAMES)
    assert [s.index for s in slabs] == [0, 1, 2, 3] * 3
    assert [s.axis for s in slabs] == [0] * 4 + [1] * 4 + [2] * 4
    for axis in range(3):
        group = slabs[4 * axis : 4 * axis + 4]
        thickness = (bmax[axis] - bmin[axis]) / 4
        for s in group:
            assert s.hi - s.lo == pytest.approx(thickness)
        lows = [s.lo for s in group]
        if axis == 0:  # X1..X4 left to right
            assert lows == sorted(lows) and group[0].lo == pytest.approx(bmin[0])
        else:  # Y top to bottom, Z near (+z) to far
            assert lows == sorted(lows, reverse=True)
            assert group[0].hi == pytest.approx(bmax[axis])
            assert group[-1].lo == pytest.approx(bmin[axis])
