"""Cycles inputs (training/data/cycles.py) and the photo-like validation set (photo_val.py), with
real Cycles renders at low sample counts (slow: the whole data folder is marked slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh

from training.data.cycles import VIEW_TO_BLENDER, hdri_dir, list_hdris, render_cycles, world_matrix
from training.data.mesh import ShapeMesh
from training.data.photo_val import build_photo_val, held_out_shapes
from training.data.raycast import Caster
from training.data.render import render_input
from training.data.shading import random_look
from training.data.sources import get_source
from training.data.views import View
from training.dataset import load_split

pytest.importorskip("bpy")

VIEW = View(35.0, 20.0, 1.0)
SIZE = 96


def textured_cube() -> ShapeMesh:
    """A cube whose six faces each carry the whole texture: left half red, right half blue."""
    box = trimesh.creation.box([0.5, 0.5, 0.5])
    tris = box.vertices[box.faces]  # unwelded: every face gets its own UVs
    verts = tris.reshape(-1, 3)
    faces = np.arange(len(verts)).reshape(-1, 3)
    uv = np.zeros((len(verts), 2), np.float32)
    for f, tri in enumerate(tris):
        n = box.face_normals[f]
        a, b = [k for k in range(3) if abs(n[k]) < 0.5]
        uv[3 * f : 3 * f + 3] = (tri[:, [a, b]] + 0.25) / 0.5 * 0.98 + 0.01
    tex = np.zeros((32, 32, 3), np.uint8)
    tex[:, :16] = (230, 20, 20)
    tex[:, 16:] = (20, 20, 230)
    return ShapeMesh(verts, faces, uv=uv, texture=tex, meta={"smooth": False})


@pytest.fixture(scope="module")
def cube() -> ShapeMesh:
    return textured_cube()


@pytest.fixture(scope="module")
def studio() -> str:
    return next(p for p in list_hdris() if p.stem == "studio")


def test_hdris_ship_with_bpy():
    names = {p.name for p in list_hdris()}
    assert hdri_dir().is_dir() and len(names) >= 4 and "studio.exr" in names


def test_alpha_overlays_the_ray_cast_silhouette(cube, studio):
    ours = render_cycles(cube, VIEW, studio, 0.0, 1.0, size=SIZE, samples=4)
    ref = render_input(Caster(cube), VIEW, random_look(np.random.default_rng(0)), SIZE)
    assert ours.shape == (SIZE, SIZE, 4) and ours.dtype == np.uint8
    a, b = ours[..., 3] > 127, ref[..., 3] > 127
    assert (a & b).sum() / (a | b).sum() > 0.95
    assert ours[0, 0, 3] == 0  # transparent film


def test_stronger_hdri_is_brighter(cube, studio):
    dim = render_cycles(cube, VIEW, studio, 0.0, 0.4, size=SIZE, samples=4)
    bright = render_cycles(cube, VIEW, studio, 0.0, 1.6, size=SIZE, samples=4)
    mask = (dim[..., 3] > 200) & (bright[..., 3] > 200)
    assert bright[mask, :3].mean() > 1.5 * dim[mask, :3].mean()


def test_texture_colours_show(cube, studio):
    img = render_cycles(cube, VIEW, studio, 0.0, 1.2, size=SIZE, samples=4).astype(float)
    px = img[img[..., 3] > 200, :3]
    red = (px[:, 0] > 2 * px[:, 2]) & (px[:, 0] > 2 * px[:, 1])
    blue = (px[:, 2] > 2 * px[:, 0]) & (px[:, 2] > 2 * px[:, 1])
    assert red.mean() > 0.2 and blue.mean() > 0.2


def test_plain_material_takes_the_base_colour(studio):
    box = trimesh.creation.box([0.5, 0.5, 0.5])
    mesh = ShapeMesh(box.vertices, box.faces, meta={"smooth": False})
    img = render_cycles(
        mesh, VIEW, studio, 0.0, 1.0, size=SIZE, samples=4, base_color=(0.1, 0.8, 0.1)
    )
    px = img[img[..., 3] > 200, :3].astype(float)
    assert px[:, 1].mean() > 2 * px[:, 0].mean()


def _tiny_set(root):
    """A one-shape data set of the procedural source: its plan puts the shape in ``val``."""
    shape_id, family = get_source("procedural").list_shapes(1)[0]
    unit = {
        "path": "val/procedural-00000.npz",
        "split": "val",
        "source": "procedural",
        "shapes": [[shape_id, family]],
        "views": 4,
        "points": 256,
    }
    root.mkdir()
    (root / "plan.json").write_text(json.dumps({"units": [unit]}))
    return shape_id


def test_photo_val_writes_shards_the_reader_loads(tmp_path):
    shape_id = _tiny_set(tmp_path / "set")
    assert held_out_shapes([tmp_path / "set"], "train") == {}
    out = tmp_path / "photo"
    m = build_photo_val(out, [tmp_path / "set"], "val", shapes=1, views=1, points=256, samples=2)
    assert m["splits"]["val"] == ["val/procedural-00000.npz"]
    data = load_split(out, "val", 128, verbose=False)
    assert len(data) == 1 and data.points.shape == (1, 256, 3) and data.image.shape[-1] in (3, 4)
    assert str(data.shape_id[0]) == shape_id
    side = json.loads((out / "val/procedural-00000.json").read_text())
    assert side["photo"][0]["hdri"] in {p.name for p in list_hdris()}
    assert (out / "meshes" / f"{shape_id}.npz").is_file()
    with np.load(out / "val/procedural-00000.npz") as z:
        assert z["image"][0, ..., 3].max() == 255 and z["image"][0, 0, 0, 3] == 0
        assert z["colors"].shape == (1, 256, 4) and (z["colors"][..., 3] == 255).all()
    mtime = (out / "val/procedural-00000.npz").stat().st_mtime_ns  # resumable: a re-run skips
    build_photo_val(out, [tmp_path / "set"], "val", shapes=1, views=1, points=256, samples=2)
    assert (out / "val/procedural-00000.npz").stat().st_mtime_ns == mtime
    # the colors backfill gives a Cycles shard the same (material) colours
    from training.data.colors_backfill import backfill_shard
    from training.data.shards import read_shard, write_arrays

    arrays = read_shard(out / "val/procedural-00000.npz")
    built = arrays.pop("colors")
    write_arrays(out / "val/procedural-00000.npz", arrays)
    assert backfill_shard(out / "val/procedural-00000.npz")["verified"] == 1
    np.testing.assert_array_equal(read_shard(out / "val/procedural-00000.npz")["colors"], built)


def test_twin_matches_build_and_photo_keeps_its_views(tmp_path):
    """``--samples 0`` reproduces ``build``'s samples; the Cycles set has the same views."""
    from training.data.build import Unit, run_unit

    _tiny_set(tmp_path / "set")
    unit = json.loads((tmp_path / "set/plan.json").read_text())["units"][0]
    run_unit(tmp_path / "built", Unit(**{**unit, "views": 1}))
    build_photo_val(tmp_path / "twin", [tmp_path / "set"], "val", 1, 1, 256, samples=0)
    build_photo_val(tmp_path / "photo", [tmp_path / "set"], "val", 1, 1, 256, samples=2)
    rel = "val/procedural-00000.npz"
    with np.load(tmp_path / "built" / rel) as a, np.load(tmp_path / "twin" / rel) as b:
        assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["sdf"], b["sdf"])
        with np.load(tmp_path / "photo" / rel) as c:
            assert np.array_equal(a["view"], c["view"]) and np.array_equal(a["sdf"], c["sdf"])
            assert not np.array_equal(a["image"], c["image"])
            # Cycles paints the mesh's own vertex colours, untinted: the twin's look may not
            assert np.array_equal(b["colors"], a["colors"])
            assert (c["colors"][..., 3] == 255).all()
            _, counts = np.unique(c["colors"][0, :, :3], axis=0, return_counts=True)
            assert np.sort(counts)[-4:].sum() > 0.8 * 256  # a 4-colour part palette, flat


@pytest.mark.parametrize("az, el", [(0.0, 0.0), (0.0, 45.0), (70.0, 30.0), (200.0, -10.0)])
def test_the_hdri_stays_upright_around_the_object(az: float, el: float) -> None:
    """The object's up, seen in Blender's world, reads the map's zenith, whatever the camera's
    elevation: the mesh is placed in the view frame, so the world must turn with it."""
    view = View(az, el, 1.0)
    up_world = VIEW_TO_BLENDER @ view.rotation @ np.array([0.0, 1.0, 0.0])
    m = world_matrix(view, 30.0)
    assert np.allclose(m @ up_world, [0.0, 0.0, 1.0])
    assert np.allclose(m @ m.T, np.eye(3))
    if az == 0.0 and el == 0.0:  # the level front view: only the turn about the vertical
        a = np.radians(30.0)
        assert np.allclose(m[:2, :2], [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
