"""The AC3D reader on hand-written files: the OBJECT tree's transforms, texture coordinates,
materials, skipped lines and fields, the texture cap, and malformed input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from training.data.ac3d import Ac3dError, parse_ac, read_ac
from training.data.materials import sample_bilinear
from training.data.mesh import MAX_TEXTURE

# A group turned 90 degrees about +Y (x -> -z) and moved by (10, 0, 0) holds a textured quad
# moved by (0, 1, 0) (texrep 2 1, texoff 0.5 0), an untextured red triangle, and a line.
AC = """AC3Db
MATERIAL "white" rgb 1 1 1  amb 0.2 0.2 0.2  emis 0 0 0  spec 0 0 0  shi 10  trans 0
MATERIAL "red" rgb 1 0 0  amb 0.2 0.2 0.2  emis 0 0 0  spec 0 0 0  shi 10  trans 0
OBJECT world
name "scene"
kids 1
OBJECT group
name "turned"
data 9
some text
rot 0 0 1  0 1 0  -1 0 0
loc 10 0 0
kids 3
OBJECT poly
name "quad"
loc 0 1 0
texture "skin.png"
texrep 2 1
texoff 0.5 0
crease 30.0
url "http://example.invalid"
numvert 4
0 0 0
1 0 0
1 1 0
0 1 0
numsurf 1
SURF 0x10
mat 0
refs 4
0 0 0
1 1 0
2 1 1
3 0 1
kids 0
OBJECT poly
name "red"
numvert 3
0 0 0
0 0 1
0 1 0
numsurf 1
SURF 0X20
mat 1
refs 3
0 0 0
1 0 0
2 0 0
kids 0
OBJECT poly
name "wire"
numvert 2
5 5 5
6 6 6
numsurf 1
SURF 0x2
mat 0
refs 2
0 0 0
1 0 0
kids 0
"""


def _skin(path, size=(8, 4)) -> None:
    """A texture: green left half, blue right half."""
    a = np.zeros((size[1], size[0], 3), np.uint8)
    a[:, : size[0] // 2, 1] = 200
    a[:, size[0] // 2 :, 2] = 200
    Image.fromarray(a).save(path)


def test_tree_transforms_and_surfaces():
    model = parse_ac(AC)
    assert [p.texture for p in model.polys] == ["skin.png", None]  # the line left no poly
    quad, red = model.polys
    # quad vertex (1, 1, 0): + loc (0, 1, 0) = (1, 2, 0); turned: (0, 2, -1); + (10, 0, 0)
    np.testing.assert_allclose(quad.vertices[2], [10, 2, -1])
    np.testing.assert_allclose(red.vertices[1], [11, 0, 0])  # (0, 0, 1) turned to (1, 0, 0)
    assert quad.corners.tolist() == [[0, 1, 2], [0, 2, 3]]  # fan
    np.testing.assert_allclose(quad.uv[0], [[0.5, 0], [2.5, 0], [2.5, 1]])  # texrep, texoff
    assert red.mats.tolist() == [1]
    assert model.materials[1] == (1.0, 0.0, 0.0)


def test_read_ac_texture_and_colours(tmp_path):
    _skin(tmp_path / "skin.png")
    (tmp_path / "m.ac").write_text(AC)
    mesh = read_ac(tmp_path / "m.ac")
    assert mesh.faces.shape == (3, 3)
    assert mesh.texture is not None and mesh.texture.shape == (4, 8, 3)
    assert mesh.uv is not None and mesh.vertex_colors is not None
    assert len(mesh.vertices) == 7  # 4 quad corners + 3 triangle corners: nothing shared
    # the quad's corners keep their UVs; the red triangle points at a texel nearest red
    red_face = mesh.faces[2]
    red_uv = mesh.uv[red_face]
    np.testing.assert_allclose(red_uv, red_uv[:1].repeat(3, 0))
    np.testing.assert_allclose(mesh.vertex_colors[red_face], [[1, 0, 0]] * 3)
    texel = sample_bilinear(mesh.texture, red_uv[:1, 0], red_uv[:1, 1])[0]
    assert texel[0] == 0 and texel.max() > 0.7  # one of the two texture colours, unblended
    quad_uv = {tuple(np.round(mesh.uv[i], 3)) for i in mesh.faces[:2].reshape(-1)}
    assert quad_uv == {(0.5, 0.0), (2.5, 0.0), (2.5, 1.0), (0.5, 1.0)}


def test_missing_texture_falls_back_to_colours(tmp_path):
    (tmp_path / "m.ac").write_text(AC)
    mesh = read_ac(tmp_path / "m.ac")
    assert mesh.texture is None and mesh.uv is None
    assert mesh.vertex_colors is not None
    reds = np.all(mesh.vertex_colors == [1, 0, 0], axis=1)
    assert reds.sum() == 3  # the red triangle; the quad's white material elsewhere


def test_texture_capped(tmp_path):
    _skin(tmp_path / "skin.png", size=(1024, 300))
    (tmp_path / "m.ac").write_text(AC)
    mesh = read_ac(tmp_path / "m.ac")
    assert mesh.texture is not None
    assert max(mesh.texture.shape[:2]) == MAX_TEXTURE


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("OBJ\n", "no AC3D header"),
        (AC.replace("loc 10 0 0", "loc 10 zero 0"), "expected 3 numbers"),
        (AC.replace("2 1 1\n3 0 1", "2 1 1\n9 0 1"), "out of range"),
        (AC.replace("2 1 1\n3 0 1", "2 1 1\n-1 0 1"), "out of range"),
        (AC.replace("kids 3", "kids 4"), "unexpected end of file"),
        (AC.replace("SURF 0x10\nmat 0", "SURF 0x10\nmaterial 0"), "expected mat or refs"),
        (AC.replace('texrep 2 1', 'wobble 2 1'), "unknown OBJECT field"),
        (AC.replace("numvert 3", "numvert -3"), "negative count"),
    ],
)
def test_malformed(text, message):
    with pytest.raises(Ac3dError, match=message):
        parse_ac(text)


def test_no_polygons(tmp_path):
    (tmp_path / "lines.ac").write_text(AC.split("OBJECT group")[0].replace("kids 1", "kids 0"))
    with pytest.raises(Ac3dError, match="no polygons"):
        read_ac(tmp_path / "lines.ac")
