"""Texture lookups used by the input shader: wrapping, orientation and triplanar blending."""

from __future__ import annotations

import numpy as np

from training.data.materials import sample_bilinear, triplanar


def test_bilinear_wraps_and_keeps_v_up():
    tex = np.zeros((4, 4, 3), np.uint8)
    tex[0] = 255  # the top row of the image is centred at v = 0.875
    top = sample_bilinear(tex, np.array([0.5, 1.5]), np.array([0.875, 1.875]))
    bottom = sample_bilinear(tex, np.array([0.5]), np.array([0.4]))
    np.testing.assert_allclose(top, 1.0, atol=1e-9)
    np.testing.assert_allclose(bottom, 0.0, atol=1e-9)


def test_triplanar_of_a_flat_texture_is_flat():
    tex = np.full((8, 8, 3), 128, np.uint8)
    rng = np.random.default_rng(0)
    p, n = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    np.testing.assert_allclose(triplanar(tex, p, n, 3.0), 128 / 255, atol=1e-9)
