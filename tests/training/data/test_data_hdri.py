"""Image-based light: SH irradiance, dominant lights, rotation and determinism, on real maps."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import hdri


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    d = rng.standard_normal((n, 3))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def test_constant_map_gives_that_constant():
    img = np.full((hdri.MAP_H, hdri.MAP_W, 3), [0.2, 0.5, 1.3], np.float32)
    out = hdri.sh_diffuse(hdri.project_sh(img), _unit(np.random.default_rng(0), 200))
    np.testing.assert_allclose(out, np.broadcast_to([0.2, 0.5, 1.3], out.shape), rtol=2e-3)


def test_map_lit_from_one_side_is_brighter_on_that_side():
    d, _ = hdri.map_directions(hdri.MAP_H, hdri.MAP_W)
    img = np.full((hdri.MAP_H, hdri.MAP_W, 3), 0.1, np.float32)
    img[d[..., 0] > 0.7] = 5.0  # a bright patch toward +X
    sh = hdri.project_sh(img)
    bright, dark = hdri.sh_diffuse(sh, np.array([[1.0, 0, 0], [-1.0, 0, 0]]))
    assert bright.min() > 3 * dark.max()


def test_extracted_sun_points_at_the_sun_and_keeps_the_energy():
    d, omega = hdri.map_directions(hdri.MAP_H, hdri.MAP_W)
    sun = np.array([0.3, 0.8, -0.52])
    sun /= np.linalg.norm(sun)
    img = np.full((hdri.MAP_H, hdri.MAP_W, 3), 0.3, np.float32)
    img[d @ sun > np.cos(np.radians(3))] = 400.0
    lights, residual = hdri.extract_lights(img)
    assert len(lights) == 1 and lights[0].direction @ sun > np.cos(np.radians(2))
    total = (img * omega[..., None]).sum((0, 1))
    np.testing.assert_allclose(lights[0].energy + (residual * omega[..., None]).sum((0, 1)), total)
    assert residual.max() < 1.0  # the sun left the residual map


def test_shipped_maps_load():
    m = hdri.map_light("sunrise")
    assert hdri.load_map("sunrise").shape == (hdri.MAP_H, hdri.MAP_W, 3)
    assert m.lights and m.white > 0 and len(m.levels) == 1 + len(hdri.GLOSS_EXPONENTS)


def test_rotation_moves_the_light():
    still, turned = hdri.Environment("city", 0.0, 1.0), hdri.Environment("city", 90.0, 1.0)
    sun0, sun90 = still.lights()[0].direction, turned.lights()[0].direction
    np.testing.assert_allclose(sun90, hdri.rotate_y(sun0, -90.0), atol=1e-12)
    assert sun0 @ sun90 < 0.9  # it moved
    n = _unit(np.random.default_rng(1), 50)
    np.testing.assert_allclose(turned.diffuse(hdri.rotate_y(n, -90.0)), still.diffuse(n))
    r = np.array([[0.0, 0.3, 1.0]]) / np.linalg.norm([0.0, 0.3, 1.0])
    for rough in (0.0, 0.5):
        np.testing.assert_allclose(
            turned.glossy(hdri.rotate_y(r, -90.0), rough),
            still.glossy(r, rough),
            rtol=1e-6,
        )


def test_glossy_blurs_with_roughness():
    env = hdri.Environment("studio", 0.0, 1.0)
    r = _unit(np.random.default_rng(2), 400)
    sharp, rough = (hdri.luminance(env.glossy(r, x)) for x in (0.0, 0.9))
    assert rough.std() < 0.5 * sharp.std()


@pytest.mark.parametrize("seed", [0, 7])
def test_random_environment_is_deterministic_from_the_rng(seed):
    a = hdri.random_environment(np.random.default_rng(seed))
    b = hdri.random_environment(np.random.default_rng(seed))
    assert a == b and a.name in hdri.NAMES and a.strength > 0
    assert a != hdri.random_environment(np.random.default_rng(seed + 100))


def test_lookup_at_pixel_centres_returns_the_pixels():
    d, _ = hdri.map_directions(hdri.MAP_H, hdri.MAP_W)
    img = np.random.default_rng(3).random((hdri.MAP_H, hdri.MAP_W, 3))
    got = hdri.sample_map(img, d.reshape(-1, 3)).reshape(img.shape)
    np.testing.assert_allclose(got, img, atol=1e-9)


def test_blender_equirect_layout():
    """Blender reads u = 1/2 - atan2(Y, X) / 2pi with world (X, Y, Z) = object (x, -z, y):
    object -x (Blender -X) is the map's left edge, object +z (Blender -Y) three quarters."""
    img = np.zeros((hdri.MAP_H, hdri.MAP_W, 3))
    img[:, hdri.MAP_W * 3 // 4] = 1.0  # the column at u = 3/4
    row = np.array([[0.0, 0.0, 1.0]])
    assert hdri.sample_map(img, row)[0, 0] > 0.4
    assert hdri.sample_map(img, np.array([[1.0, 0.0, 0.0]]))[0, 0] == 0.0


def test_map_is_cached_as_npy(tmp_path, monkeypatch):
    monkeypatch.setattr(hdri, "CACHE", tmp_path)
    first = hdri.load_map("night")
    assert (tmp_path / f"night_{hdri.MAP_W}x{hdri.MAP_H}.npy").exists()
    np.testing.assert_array_equal(hdri.load_map("night"), first)
    full = hdri.read_exr(hdri.world_dir() / "night.exr")
    np.testing.assert_allclose(first.mean((0, 1)), full.mean((0, 1)), rtol=5e-3)  # area mean
