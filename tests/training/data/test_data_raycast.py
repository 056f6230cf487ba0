"""The shadow test of training.data.raycast on a real Embree scene."""

from __future__ import annotations

import numpy as np

from training.data.mesh import ShapeMesh
from training.data.raycast import Caster


def _cube() -> ShapeMesh:
    v = np.array([[x, y, z] for x in (-0.2, 0.2) for y in (-0.2, 0.2) for z in (-0.2, 0.2)])
    f = [[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
         [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]]
    return ShapeMesh(v, np.array(f))


def test_one_direction_per_point_is_normalised_per_point() -> None:
    """Rays toward the cube hit it and rays away miss, whatever each direction's length."""
    caster = Caster(_cube())
    pts = np.array([[0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.0, 0.6, 0.0], [0.0, 0.6, 0.0]])
    dirs = np.array([[-3.0, 0.0, 0.0], [0.01, 0.0, 0.0], [0.0, -0.02, 0.0], [0.0, 5.0, 0.0]])
    assert caster.occluded(pts, dirs).tolist() == [True, False, True, False]


def test_one_direction_for_all_points() -> None:
    caster = Caster(_cube())
    pts = np.array([[0.5, 0.0, 0.0], [-0.5, 0.0, 0.0]])
    assert caster.occluded(pts, np.array([-2.0, 0.0, 0.0])).tolist() == [True, False]
