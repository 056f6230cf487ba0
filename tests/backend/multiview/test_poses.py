"""Poses of several photos (backend/multiview/poses.py): the transforms the predictor reads and
the camera poses the bundle reports, against the conventions of ARCHITECTURE.md section 4."""

from __future__ import annotations

import numpy as np
import pytest

from backend.contract import CAMERA_DISTANCE
from backend.multiview.poses import (
    camera_position,
    camera_to_view,
    matrix_json,
    view_rotation,
    view_transform,
    view_transforms,
)


def object_to_view(azimuth: float, elevation: float, scale: float) -> np.ndarray:
    """What the data engine stores per sample (training/data/views.py View.matrix)."""
    m = np.eye(4)
    m[:3, :3] = scale * view_rotation(azimuth, elevation)
    return m


def test_transform_is_the_data_engines_relative_transform():
    # transforms[k] = object_to_view[k] @ inv(object_to_view[0]) up to the scale ratio, for any
    # absolute azimuth of the reference: only the difference matters.
    rng = np.random.default_rng(3)
    for _ in range(50):
        a0, a1 = rng.uniform(0, 360, 2)
        e0, e1 = rng.uniform(-10, 40, 2)
        s0, s1 = rng.uniform(0.75, 1.1, 2)
        truth = object_to_view(a1, e1, s1) @ np.linalg.inv(object_to_view(a0, e0, s0))
        mine = view_transform(a1 - a0, e0, e1)
        mine[:3, :3] *= s1 / s0
        np.testing.assert_allclose(mine, truth, atol=1e-12)


def test_transforms_start_with_the_identity_and_are_rotations():
    mats = view_transforms([0, 90, 180, 270], [20, 20, 10, 30])
    np.testing.assert_allclose(mats[0], np.eye(4), atol=1e-12)
    for m in mats:
        np.testing.assert_allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-12)
        assert np.linalg.det(m[:3, :3]) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        view_transforms([0, 90], [20])


def test_quarter_turn_at_level_cameras():
    # The camera moves 90 degrees counter-clockwise seen from above (from the front toward +X):
    # what was on the reference's right (+x) now faces the camera (+z), and the reference's
    # camera side (+z) is now on the left (-x).
    m = view_transform(90.0, 0.0, 0.0)
    np.testing.assert_allclose(m[:3, :3] @ [0.1, 0, 0], [0, 0, 0.1], atol=1e-12)
    np.testing.assert_allclose(m[:3, :3] @ [0, 0, 0.1], [-0.1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(m[:3, :3] @ [0, 0.1, 0], [0, 0.1, 0], atol=1e-12)


def test_camera_to_view_places_each_camera_round_the_object():
    # The reference camera is a translation by (0, 0, d); photo k's camera sits at distance d from
    # the object centre, looking at it (its -z axis points at the origin), +y up-ish.
    np.testing.assert_allclose(camera_to_view(np.eye(4)),
                               [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, CAMERA_DISTANCE],
                                [0, 0, 0, 1]], atol=1e-12)
    pose = camera_to_view(view_transform(90.0, 0.0, 0.0))
    np.testing.assert_allclose(pose[:3, 3], [CAMERA_DISTANCE, 0, 0], atol=1e-12)
    forward = -pose[:3, 2]
    np.testing.assert_allclose(forward, -pose[:3, 3] / CAMERA_DISTANCE, atol=1e-12)
    for a, e0, e in [(37.0, 10.0, 25.0), (200.0, -5.0, 35.0)]:
        pose = camera_to_view(view_transform(a, e0, e))
        assert np.linalg.norm(pose[:3, 3]) == pytest.approx(CAMERA_DISTANCE)
        np.testing.assert_allclose(-pose[:3, 2], -pose[:3, 3] / CAMERA_DISTANCE, atol=1e-12)
        # the reference frame's camera position rotated into the object frame matches the
        # data engine's camera position for the same azimuth and elevation
        to_object = view_rotation(0.0, e0).T
        np.testing.assert_allclose(to_object @ pose[:3, 3], camera_position(a, e), atol=1e-12)


def test_matrix_json_is_row_major_lists():
    pose = camera_to_view(np.eye(4))
    assert matrix_json(pose)[2] == [0.0, 0.0, 1.0, CAMERA_DISTANCE]
