"""backend.texture.raster: pixel centres inside triangles, and the nearest depth per pixel."""

from __future__ import annotations

import numpy as np

from backend.texture.raster import depth_buffer, rasterize

# Two triangles making the square x in [2, 6], y in [3, 7] (pixel units): pixel centres inside
# are columns 2..5 and rows 3..6.
SQUARE = np.array([[[2, 3], [6, 3], [6, 7]], [[2, 3], [6, 7], [2, 7]]], dtype=float)


def test_square_covers_exactly_its_pixels():
    face, bary = rasterize(SQUARE, 10, 10)
    expected = np.zeros((10, 10), bool)
    expected[3:7, 2:6] = True
    np.testing.assert_array_equal(face >= 0, expected)
    np.testing.assert_allclose(bary[expected].sum(axis=1), 1.0)


def test_barycentrics_give_back_the_pixel_centre():
    face, bary = rasterize(SQUARE, 10, 10)
    rows, cols = np.nonzero(face >= 0)
    corners = SQUARE[face[rows, cols]]
    centres = np.einsum("kj,kjc->kc", bary[rows, cols], corners)
    np.testing.assert_allclose(centres, np.stack([cols + 0.5, rows + 0.5], 1), atol=1e-9)


def test_nearest_depth_wins_where_triangles_overlap():
    big = np.array([[[0, 0], [8, 0], [0, 8]]], dtype=float)
    tri = np.concatenate([big, big + 1.0])  # the second, shifted, lies in front (depth 1 < 2)
    depth = np.array([[2.0, 2.0, 2.0], [1.0, 1.0, 1.0]])
    buffer = depth_buffer(tri, depth, 10, 10)
    assert buffer[0, 0] == 2.0  # only the far triangle covers it
    assert buffer[2, 2] == 1.0  # both do: the near one wins
    assert np.isinf(buffer[9, 9])  # none does


def test_tiny_and_degenerate_triangles_cover_nothing_and_do_not_fail():
    tri = np.array([[[1.1, 1.1], [1.2, 1.1], [1.1, 1.2]], [[3, 3], [3, 3], [3, 3]]], float)
    face, _ = rasterize(tri, 5, 5)
    assert (face == -1).all()
