"""The Sweet Home 3D sources: a catalog zip written in the test, read end to end, and the real
packages when they are installed."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from training.data.build import Unit, run_unit
from training.data.sources import get_source
from training.data.sources.base import Shape
from training.data.sources.install import deb_file
from training.data.sources.sweethome import index, parse_properties

FURNITURE_DIR = "sweethome3d-furniture/usr/share/sweethome3d/furniture"
CATALOG = """# a comment
id=Test#catalog
name=Test catalog

id#1=Test#tall box
name#1=Tall \\u00e9tag\\u00e8re
category#1=Living room
creator#1=Jane Maker
model#1=/box/box.obj
modelRotation#1=1 0 0 0 0 1 0 -1 0
width#1=50
depth#1=50
height#1=100

id#2=Test#pot
name#2=Little plant
category#2=Miscellaneous
creator#2=Joe \\
  Gardener
model#2=/box/box.obj
width#2=40
depth#2=40
height#2=40
"""


def png(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, "PNG")
    return buf.getvalue()


@pytest.fixture
def catalog(monkeypatch, tmp_path, cube_obj):
    """A BlendSwap-CC-BY.sh3f in a package folder of its own, found through SLICE3D_SOURCES; its
    model is a 1 x 1 x 2 box standing along +Z (Z-up, as some catalog models are)."""
    folder = tmp_path / FURNITURE_DIR
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "BlendSwap-CC-BY.sh3f", "w") as zf:
        zf.writestr("PluginFurnitureCatalog.properties", CATALOG.encode("latin-1"))
        zf.writestr("box/box.obj", "mtllib box.mtl\n" + cube_obj("wood", height=2))
        zf.writestr("box/box.mtl", "newmtl wood\nKd 1 1 1\nmap_Kd wood.png\n")
        zf.writestr("box/wood.png", png((150, 90, 40)))
    monkeypatch.setenv("SLICE3D_SOURCES", str(tmp_path))
    if deb_file("sweethome3d-furniture") != folder:
        pytest.skip("a system-wide sweethome3d-furniture takes precedence over the test's")
    index.cache_clear()
    yield folder
    index.cache_clear()


def test_properties_parser_reads_escapes_and_continuations():
    props = parse_properties(CATALOG)
    assert props["name#1"] == "Tall \u00e9tag\u00e8re"
    assert props["creator#2"] == "Joe Gardener"
    assert props["id"] == "Test#catalog"
    assert "# a comment" not in " ".join(props)


def test_catalog_lists_families_interleaved(catalog):
    src = get_source("sh3d-furniture")
    listed = src.list_shapes(10)
    assert listed == [
        ("sh3d-BlendSwap-CC-BY__tall_box", "furniture"),
        ("sh3d-BlendSwap-CC-BY__pot", "plant"),
    ]
    assert src.list_shapes(1) == listed[:1]


def test_textured_box_is_kept_upright_with_licence(catalog):
    src = get_source("sh3d-furniture")
    shape = src.load("sh3d-BlendSwap-CC-BY__tall_box", np.random.default_rng(0))
    assert isinstance(shape, Shape), shape
    assert shape.family == "furniture" and shape.source == "sh3d-furniture"
    mesh = shape.mesh
    assert mesh.meta["licence"] == "CC-BY-3.0"
    assert mesh.meta["author"] == "Jane Maker"
    assert mesh.meta["title"] == "Tall \u00e9tag\u00e8re"
    ext = mesh.vertices.max(0) - mesh.vertices.min(0)
    # modelRotation turned the Z-up box Y-up; width/height/depth 50/100/50 keep it 1:2:1
    np.testing.assert_allclose(ext / ext[0], [1, 2, 1], atol=1e-6)
    assert mesh.texture is not None and mesh.uv is not None
    np.testing.assert_allclose(mesh.texture[0, 0], [150, 90, 40], atol=1)


def test_size_from_the_catalog_reshapes_the_model(catalog):
    """The pot uses the same 1 x 1 x 2 model but the catalog says 40 x 40 x 40, no rotation."""
    shape = get_source("sh3d-furniture").load("sh3d-BlendSwap-CC-BY__pot", np.random.default_rng(0))
    assert isinstance(shape, Shape), shape
    ext = shape.mesh.vertices.max(0) - shape.mesh.vertices.min(0)
    np.testing.assert_allclose(ext / ext[0], [1, 1, 1], atol=1e-6)
    assert shape.mesh.meta["author"] == "Joe Gardener"


@pytest.mark.parametrize(
    ("name", "package", "prefix", "licences"),
    [
        ("sh3d-jar", "sweethome3d", "sh3dj-", {"GPL-2+"}),
        (
            "sh3d-furniture",
            "sweethome3d-furniture",
            "sh3d-",
            {"CC0-1.0", "CC-BY-3.0", "CC-BY-3.0-US"},
        ),
    ],
)
def test_real_package(name, package, prefix, licences):
    if deb_file(package) is None:
        pytest.skip(
            f"{package} is not installed (python -m training.data install " f"--sources {name})"
        )
    index.cache_clear()
    entries = index(name)
    assert len(entries) >= 90
    assert {e.licence for e in entries.values()} == licences
    listed = get_source(name).list_shapes(8)
    assert all(sid.startswith(prefix) for sid, _ in listed)
    assert len({f for _, f in listed}) >= 5  # families interleave
    # the smallest models (by file size) end to end, until one is kept (the very smallest are
    # often flat: plugs, switches); big ones cost minutes of winding numbers
    smallest = sorted(entries.items(), key=lambda kv: _model_size(kv[1]))[:6]
    shapes = [get_source(name).load(sid, np.random.default_rng(1)) for sid, _ in smallest]
    kept = [(s, e) for s, (_, e) in zip(shapes, smallest, strict=True) if isinstance(s, Shape)]
    assert kept, shapes
    shape, e = kept[0]
    assert shape.family == e.family and shape.mesh.meta["licence"] in licences
    assert shape.mesh.meta["title"] and shape.mesh.meta["author"]


def _model_size(e) -> int:
    with zipfile.ZipFile(e.archive) as zf:
        return zf.getinfo(e.model).file_size


def test_build_records_licence_author_title_in_the_sidecar(catalog, tmp_path):
    out = tmp_path / "set"
    sid = "sh3d-BlendSwap-CC-BY__tall_box"
    unit = Unit(
        "train/sh3d-furniture-00000.npz", "train", "sh3d-furniture", [(sid, "furniture")], 1, 512
    )
    side = run_unit(out, unit)
    want = {
        sid: {"licence": "CC-BY-3.0", "author": "Jane Maker", "title": "Tall \u00e9tag\u00e8re"}
    }
    assert side["samples"] == 1 and side["meta"] == want
    assert json.loads((out / "train/sh3d-furniture-00000.json").read_text())["meta"] == want
