"""backend.texture.visibility: the input camera's depth buffer decides what it sees."""

from __future__ import annotations

import numpy as np

from backend.texture.visibility import CameraDepth


def quad(z: float, half: float) -> tuple[np.ndarray, np.ndarray]:
    v = np.array([[-half, -half, z], [half, -half, z], [half, half, z], [-half, half, z]])
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_a_surface_behind_another_is_hidden_even_though_it_faces_the_camera():
    near_v, near_f = quad(0.2, 0.1)
    far_v, far_f = quad(-0.2, 0.4)
    depth = CameraDepth(np.concatenate([near_v, far_v]), np.concatenate([near_f, far_f + 4]))
    points = np.array([[0.0, 0.0, 0.2],    # on the near quad
                       [0.0, 0.0, -0.2],   # on the far quad, right behind the near one
                       [0.3, 0.3, -0.2],   # on the far quad, beside the near one
                       [0.0, 0.0, -0.4]])  # behind everything
    np.testing.assert_array_equal(depth.visible(points), [True, False, True, False])


def test_points_outside_the_picture_are_not_seen():
    v, f = quad(0.0, 0.3)
    depth = CameraDepth(v, f)
    assert not depth.visible(np.array([[2.0, 0.0, 0.0]]))[0]
