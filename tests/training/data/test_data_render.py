"""Slice order and pixel alignment (input and slices share one camera, checked by reprojection),
and the input's image-based light: transparent off the object, deterministic, shadows."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import trimesh

from backend.geometry import SLICE_NAMES, ndc_to_pixel, project_ndc
from backend.srgb import srgb_to_linear
from training.data.hdri import Environment
from training.data.mesh import ShapeMesh
from training.data.raycast import Caster
from training.data.render import (
    ambient_occlusion,
    light_visibility,
    render_input,
    render_slices,
    slab_index,
    view_frame,
)
from training.data.shading import Camera, Look, random_look
from training.data.views import View

CUBES = {  # object-frame centres of six small cubes
    "left": (-0.3, 0.0, 0.0),
    "right": (0.3, 0.0, 0.0),
    "top": (0.0, 0.3, 0.0),
    "bottom": (0.0, -0.3, 0.0),
    "near": (0.0, 0.0, 0.3),
    "far": (0.0, 0.0, -0.3),
}


def _scene():
    parts = []
    for c in CUBES.values():
        b = trimesh.creation.box([0.06, 0.06, 0.06])
        b.apply_translation(c)
        parts.append(b)
    tm = trimesh.util.concatenate(parts)
    return ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))


def _centroid(alpha: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(alpha > 0)
    w = alpha[rows, cols].astype(float)
    return np.array([(cols + 0.5) @ w / w.sum(), (rows + 0.5) @ w / w.sum()])


def _pixel(point_view, size) -> np.ndarray:
    ndc, _ = project_ndc(np.asarray([point_view], float))
    return ndc_to_pixel(ndc, size)[0]


def test_slice_order_and_alignment():
    mesh, view = _scene(), View(0.0, 0.0, 1.0)
    frame = view_frame(mesh, view)
    caster = Caster(mesh)
    slices = render_slices(caster, view, frame, 64)
    image = render_input(caster, view, random_look(np.random.default_rng(0)), 128)
    assert slices.shape == (12, 64, 64, 2) and image.shape == (128, 128, 4)
    named = dict(zip(SLICE_NAMES, slices[..., 1], strict=True))
    expect = {"X1": "left", "X4": "right", "Y1": "top", "Y4": "bottom", "Z1": "near", "Z4": "far"}
    for name, cube in expect.items():
        got = _centroid(named[name])
        np.testing.assert_allclose(got, _pixel(view.to_view([CUBES[cube]])[0], 64), atol=0.6)
    # the far cube is hidden behind the near one in the input but revealed by slice Z4
    assert (named["Z4"] > 0).sum() < (named["Z1"] > 0).sum()
    # reprojection: the input image puts every visible cube where the slices put it
    for cube in ("left", "right", "top", "bottom"):
        p = view.to_view([CUBES[cube]])[0]
        px = _pixel(p, 128)
        r0, c0 = int(px[1]) - 8, int(px[0]) - 8
        window = np.zeros_like(image[..., 3])
        window[r0 : r0 + 16, c0 : c0 + 16] = image[r0 : r0 + 16, c0 : c0 + 16, 3]
        np.testing.assert_allclose(_centroid(window), px, atol=0.6)
    # every pixel covered in the input is covered by some X slice and vice versa
    union = slices[:4, ..., 1].max(0) > 127
    small = image[..., 3].reshape(64, 2, 64, 2).mean(axis=(1, 3)) > 127
    assert (union != small).mean() < 0.01


def test_slices_rotate_with_the_view():
    mesh = _scene()
    view = View(90.0, 0.0, 1.0)  # camera on +X: the "near" cube (object +Z) now sits on the left
    frame = view_frame(mesh, view)
    slices = render_slices(Caster(mesh), view, frame, 64)
    np.testing.assert_allclose(
        _centroid(slices[0, ..., 1]), _pixel(view.to_view([CUBES["near"]])[0], 64), atol=0.6
    )


def test_slab_index_matches_slab_bounds(sphere_mesh):
    view = View(30.0, 20.0, 0.9)
    frame = view_frame(sphere_mesh, view)
    rng = np.random.default_rng(1)
    pts = frame.bmin + rng.random((2000, 3)) * (frame.bmax - frame.bmin)
    k = slab_index(pts, frame)
    for slab in frame.slabs:
        inside = pts[k[:, slab.axis] == slab.index, slab.axis]
        assert len(inside) and inside.min() >= slab.lo - 1e-9 and inside.max() <= slab.hi + 1e-9


def _hdri_look(seed: int, **changes) -> Look:
    """A random look, with the HDRI light forced (and whatever else the test pins)."""
    look = random_look(np.random.default_rng(seed))
    env = look.env or Environment("city", 30.0, 0.5)
    return replace(look, **{"env": env, **changes})


def test_hdri_input_is_transparent_off_the_object_and_deterministic(sphere_mesh):
    caster, view = Caster(sphere_mesh), View(20.0, 10.0, 1.0)
    look = _hdri_look(3, camera=Camera(noise=0.02, blur=0.5, jpeg=70))
    image = render_input(caster, view, look, 64)
    again = render_input(caster, view, look, 64)
    np.testing.assert_array_equal(image, again)
    off = image[..., 3] == 0
    assert off.any() and (image[off] == 0).all()  # corners: nothing but zeros
    assert (image[..., 3] == 255).mean() > 0.2
    other = render_input(caster, view, replace(look, seed=look.seed + 1), 64)
    assert (other != image).any()  # the seed drives the noise
    np.testing.assert_array_equal(other[..., 3], image[..., 3])  # never the coverage


def _plate_and_blocker(sun: np.ndarray, with_blocker: bool) -> tuple[ShapeMesh, np.ndarray]:
    plate = trimesh.creation.box([0.8, 0.02, 0.8])
    plate.apply_translation([0.0, -0.2, 0.0])
    p = np.array([0.15, -0.19, 0.15])  # a point on the plate's top
    parts = [plate]
    if with_blocker:
        b = trimesh.creation.box([0.12, 0.12, 0.12])
        b.apply_translation(p + 0.3 * sun)
        parts.append(b)
    tm = trimesh.util.concatenate(parts)
    return ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces)), p


def test_shadow_darkens_an_occluded_point():
    look = _hdri_look(4, env=Environment("city", 0.0, 0.5), camera=None, metallic=False)
    sun = look.env.lights()[0].direction
    view = View(float(np.degrees(np.arctan2(-sun[0], -sun[2]))), 30.0, 1.0)  # opposite the sun
    lit_mesh, p = _plate_and_blocker(sun, False)
    shadow_mesh, _ = _plate_and_blocker(sun, True)
    px = _pixel(view.to_view([p])[0], 128).astype(int)
    blocker_px = [_pixel(q, 128) for q in view.to_view(shadow_mesh.vertices[-8:])]
    assert np.linalg.norm(np.array(blocker_px) - px, axis=1).min() > 6  # P is not hidden by it
    lit = render_input(Caster(lit_mesh), view, look, 128)[px[1], px[0]]
    dark = render_input(Caster(shadow_mesh), view, look, 128)[px[1], px[0]]
    assert lit[3] == dark[3] == 255
    lum = [srgb_to_linear(c[:3] / 255.0).sum() for c in (lit, dark)]
    assert lum[1] < 0.8 * lum[0]  # city's sun carries about a quarter of the map's light


def test_light_visibility_and_occlusion_rays(box_mesh):
    caster = Caster(box_mesh)
    rng = np.random.default_rng(0)
    up = np.array([0.0, 1.0, 0.0])
    top = np.array([[0.0, 0.1, 0.0]])  # on the top face, open sky above
    below = np.array([[0.0, -0.105, 0.0]])  # just under the box, facing up into it
    assert light_visibility(caster, top, up[None], up, 1.0, rng)[0] == 1.0
    assert light_visibility(caster, below, up[None], up, 1.0, rng)[0] == 0.0
    assert ambient_occlusion(caster, top, up[None], rng)[0] == 1.0
    assert ambient_occlusion(caster, below, up[None], rng)[0] == 0.0
