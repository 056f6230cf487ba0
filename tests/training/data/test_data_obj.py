"""training.data.obj on small OBJ+MTL files written in the test and read through a callback."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from training.data.materials import sample_bilinear
from training.data.mesh import MAX_TEXTURE
from training.data.obj import ObjError, read_obj


def png(colour: tuple[int, int, int], size: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(buf, "PNG")
    return buf.getvalue()


def reader(files: dict[str, bytes]):
    return lambda name: files[name]


def test_textured_cube_keeps_uvs_and_texture(cube_obj):
    files = {
        "m/cube.obj": ("mtllib cube.mtl\n" + cube_obj("skin")).encode(),
        "m/cube.mtl": b"newmtl skin\nKd 1 1 1\nmap_Kd tex/red.png\n",
        "m/tex/red.png": png((200, 30, 10)),
    }
    mesh = read_obj("m/cube.obj", reader(files))
    assert len(mesh.faces) == 12  # six quads, fan-split
    assert mesh.texture is not None and mesh.uv is not None
    assert mesh.uv.shape == (len(mesh.vertices), 2)
    c = sample_bilinear(mesh.texture, mesh.uv[:, 0], mesh.uv[:, 1])
    np.testing.assert_allclose(c * 255, np.tile([200, 30, 10], (len(c), 1)), atol=2)


def test_untextured_parts_become_swatches_of_the_atlas(cube_obj):
    obj = cube_obj(["skin"] * 2 + ["blue"] * 4, untextured={"blue"})  # z = 0, 1 textured
    files = {
        "cube.obj": ("mtllib a.mtl\n" + obj).encode(),
        "a.mtl": b"newmtl skin\nKd 1 1 1\nmap_Kd g.png\nnewmtl blue\nKd 0 0 1\n",
        "g.png": png((20, 220, 20)),
    }
    mesh = read_obj("cube.obj", reader(files))
    assert mesh.texture is not None
    c = sample_bilinear(mesh.texture, mesh.uv[:, 0], mesh.uv[:, 1]) * 255
    z = mesh.vertices[:, 2]
    side = np.abs(mesh.face_normals[:, 2]) < 0.5  # the blue faces
    blue = np.unique(mesh.faces[side])
    green = np.unique(mesh.faces[~side])
    np.testing.assert_allclose(c[blue], np.tile([0, 0, 255], (len(blue), 1)), atol=2)
    np.testing.assert_allclose(c[green], np.tile([20, 220, 20], (len(green), 1)), atol=2)
    assert set(np.round(z[green])) == {0.0, 1.0}


def test_tiled_uvs_are_unrolled_into_the_atlas():
    """UVs over [0, 3] repeat the texture: the atlas holds the repeats, the UVs land in [0, 1]."""
    big = Image.new("RGB", (400, 400), (255, 255, 255))
    big.paste((0, 0, 0), (0, 0, 200, 400))  # left half black
    buf = io.BytesIO()
    big.save(buf, "PNG")
    obj = "mtllib a.mtl\nusemtl s\nv 0 0 0\nv 3 0 0\nv 3 1 0\nv 0 1 0\n"
    obj += "vt 0 0\nvt 3 0\nvt 3 1\nvt 0 1\n"
    obj += "f 1/1 2/2 3/3\nf 1/1 3/3 4/4\n"
    files = {"p.obj": obj.encode(), "a.mtl": b"newmtl s\nmap_Kd t.png\n", "t.png": buf.getvalue()}
    mesh = read_obj("p.obj", reader(files))
    assert max(mesh.texture.shape[:2]) <= MAX_TEXTURE
    assert mesh.uv.min() >= 0 and mesh.uv.max() <= 1
    # three black/white periods along the quad: sample the middle of each half-period
    u = (np.arange(6) + 0.5) / 6
    c = sample_bilinear(mesh.texture, u, np.full(6, 0.5))
    np.testing.assert_allclose(c.mean(1), [0, 1, 0, 1, 0, 1], atol=0.02)


def test_untextured_model_gets_vertex_colours_and_default_library(cube_obj):
    obj = cube_obj("flblonde", untextured={"flblonde"})
    mtl = b"newmtl flblonde\nKd 0.5714 0.3283 0.0443\n"
    mesh = read_obj("c.obj", reader({"c.obj": obj.encode()}), default_mtl=mtl)
    assert mesh.texture is None
    np.testing.assert_allclose(
        mesh.vertex_colors, np.tile([0.5714, 0.3283, 0.0443], (8, 1)), atol=0.01
    )


def test_missing_file_is_an_obj_error():
    with pytest.raises(ObjError):
        read_obj("nope.obj", reader({}))
