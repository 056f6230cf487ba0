"""The photo's light fitted over the seen texels' normals and divided out."""

from __future__ import annotations

import numpy as np

from backend.srgb import linear_to_srgb, srgb_to_linear
from backend.texture.delight import LUMA, MIN_TEXELS, SHADING_RANGE, delit, relative_shading


def hemisphere(count: int, seed: int = 0) -> np.ndarray:
    """Unit normals of the half of a sphere that faces a camera on +z."""
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(count, 3))
    n[:, 2] = np.abs(n[:, 2])
    return n / np.linalg.norm(n, axis=1, keepdims=True)


def lit(albedo: np.ndarray, normals: np.ndarray, direction: np.ndarray) -> np.ndarray:
    """sRGB of linear albedo under an ambient term and a light from ``direction``."""
    light = 0.7 + 0.3 * normals @ (direction / np.linalg.norm(direction))
    return linear_to_srgb(srgb_to_linear(albedo) * light[:, None])


def test_srgb_round_trip():
    c = np.linspace(0.0, 1.0, 101)
    np.testing.assert_allclose(linear_to_srgb(srgb_to_linear(c)), c, atol=1e-12)


def test_one_colour_lit_from_the_side_comes_out_one_colour():
    normals = hemisphere(2000)
    albedo = np.tile([[0.8, 0.4, 0.2]], (2000, 1))
    photo = lit(albedo, normals, np.array([1.0, 0.3, 0.5]))
    out = delit(photo, normals, np.ones(2000))
    spread_before = np.ptp(srgb_to_linear(photo) @ LUMA)
    spread_after = np.ptp(srgb_to_linear(out) @ LUMA)
    assert spread_before > 0.1
    assert spread_after < 0.01 * spread_before
    # the hue stays, and the brightness is that of the side turned to the light, where this
    # light is 1: the albedo itself, brighter than the photo's mean
    np.testing.assert_allclose(out[0] / out[0].sum(), albedo[0] / albedo[0].sum(), atol=0.02)
    np.testing.assert_allclose(out, albedo, atol=0.02)
    assert (srgb_to_linear(out) @ LUMA).mean() > (srgb_to_linear(photo) @ LUMA).mean() + 0.03


def test_two_colours_keep_their_difference_and_lose_the_light():
    normals = hemisphere(4000, seed=1)
    # a pattern of red and blue that does not follow the normal (albedo that changes with the
    # normal's direction would be taken for light: the fit cannot tell the two apart)
    red = np.random.default_rng(2).random(len(normals)) < 0.4
    albedo = np.where(red[:, None], [0.8, 0.1, 0.1], [0.1, 0.2, 0.8])
    photo = lit(albedo, normals, np.array([-1.0, 0.0, 0.4]))
    out = delit(photo, normals, np.ones(len(normals)))
    for part in (red, ~red):
        luminance = srgb_to_linear(out[part]) @ LUMA
        assert np.ptp(luminance) < 0.5 * np.ptp(srgb_to_linear(photo[part]) @ LUMA)
    assert out[red, 0].mean() > 3 * out[red, 2].mean()
    assert out[~red, 2].mean() > 3 * out[~red, 0].mean()


def test_too_few_texels_or_no_weight_leave_the_colours_alone():
    normals = hemisphere(MIN_TEXELS - 1)
    photo = lit(np.full((len(normals), 3), 0.5), normals, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(delit(photo, normals, np.ones(len(normals))), photo, atol=1e-12)
    many = hemisphere(500)
    photo = lit(np.full((500, 3), 0.5), many, np.array([1.0, 0.0, 0.0]))
    np.testing.assert_allclose(delit(photo, many, np.zeros(500)), photo, atol=1e-12)


def test_the_shading_stays_in_its_range_on_outlying_normals():
    normals = hemisphere(1000)
    luminance = np.where(normals[:, 0] > 0.9, 1.0, 0.001)  # nearly black but for a bright rim
    shading = relative_shading(normals, luminance, np.ones(1000))
    assert np.isfinite(shading).all()
    assert shading.min() >= SHADING_RANGE[0] and shading.max() <= SHADING_RANGE[1]
