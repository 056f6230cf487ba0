"""The FlightGear source end to end on a small Models tree (listing rules, families, credits,
a kept shape), and on the real Debian package when it is installed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.data.sources import get_source
from training.data.sources.base import Dropped, Shape
from training.data.sources.flightgear import PACKAGE, FlightGearSource, family_of, shape_id
from training.data.sources.install import deb_file

COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 1999-2017 Curtis L. Olson
License: GPL-2+

Files: Models/Transport/*
Copyright: 2010 Jane Modeller
License: GPL-2+
"""


def box_ac(size: tuple[float, float, float], texture: str | None) -> str:
    """A closed box (6 quads, outward), textured with ``texture`` or plain grey."""
    sx, sy, sz = size
    v = [(x, y, z) for x in (0, sx) for y in (0, sy) for z in (0, sz)]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    lines = [
        "AC3Db",
        'MATERIAL "grey" rgb 0.5 0.5 0.5 amb 0 0 0 emis 0 0 0 spec 0 0 0 shi 1 trans 0',
        "OBJECT world",
        "kids 1",
        "OBJECT poly",
        'name "box"',
        "loc 3 0 -2",
    ]
    if texture:
        lines.append(f'texture "{texture}"')
    lines.append(f"numvert {len(v)}")
    lines += [f"{x} {y} {z}" for x, y, z in v]
    lines.append(f"numsurf {len(quads)}")
    corner_uv = [(0, 0), (1, 0), (1, 1), (0, 1)]
    for q in quads:
        lines += ["SURF 0x10", "mat 0", "refs 4"]
        lines += [f"{i} {u} {w}" for i, (u, w) in zip(q, corner_uv, strict=True)]
    lines.append("kids 0")
    return "\n".join(lines) + "\n"


def make_tree(root: Path) -> Path:
    """A package-shaped tree: Models/ with a useful model per family and ones to drop."""
    models = root / "usr/share/games/flightgear/Models"
    files = {
        "Buildings/silo.ac": box_ac((4, 12, 4), "wall.png"),
        "Agriculture/silo-red.ac": box_ac((4, 12, 4), None),  # a duplicate of the silo
        "Transport/bus.ac": box_ac((10, 3, 2.5), None),
        "Weather/cloud.ac": box_ac((5, 1, 5), None),
        "Effects/halo.ac": box_ac((1, 1, 1), None),
        "Aircraft/strobe.ac": box_ac((1, 1, 1), None),
        "Geometry/Nimitz/Models/flols.ac": box_ac((1, 1, 1), None),
        "Geometry/KC135/KC135.ac": box_ac((6, 2, 6), None),
    }
    for rel, text in files.items():
        (models / rel).parent.mkdir(parents=True, exist_ok=True)
        (models / rel).write_text(text)
    tex = np.zeros((16, 16, 3), np.uint8)
    tex[::2] = (180, 40, 40)
    Image.fromarray(tex).save(models / "Buildings/wall.png")
    doc = root / "usr/share/doc" / PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    return models


def test_listing_rules(tmp_path):
    src = FlightGearSource(make_tree(tmp_path))
    listed = src.list_shapes(100)
    assert listed == [  # families interleaved in sorted order; the first duplicate is kept
        ("fg-Geometry__KC135__KC135", "aircraft"),
        ("fg-Agriculture__silo-red", "building"),
        ("fg-Transport__bus", "vehicle"),
    ]
    assert src.list_shapes(2) == listed[:2]
    assert shape_id("Maritime/Misc/Buoy (old).ac") == "fg-Maritime__Misc__Buoy__old_"
    assert family_of("Maritime/Civilian/Tanker.ac") == "ship"
    assert family_of("Geometry/Nimitz/Models/mule-11.ac") == "vehicle"
    assert family_of("Geometry/mk82.ac") == "prop"


def test_kept_shape_with_credits(tmp_path, monkeypatch):
    """Through the registry, the package found via SLICE3D_SOURCES, to a kept Shape."""
    if Path("/usr/share/games/flightgear/Models").exists():
        pytest.skip("the system's flightgear-data-models would win over SLICE3D_SOURCES")
    make_tree(tmp_path / PACKAGE)
    monkeypatch.setenv("SLICE3D_SOURCES", str(tmp_path))
    src = get_source("flightgear")
    rng = np.random.default_rng(0)
    bus = src.load("fg-Transport__bus", rng)
    assert isinstance(bus, Shape), bus
    assert bus.family == "vehicle" and bus.source == "flightgear"
    assert bus.mesh.meta["author"] == "Jane Modeller"  # the stanza naming Transport/
    assert bus.mesh.meta["licence"] == "GPL-2+" and bus.mesh.meta["title"] == "bus"
    ext = bus.mesh.vertices.max(0) - bus.mesh.vertices.min(0)
    assert ext[0] > ext[1]  # as stored: long along x, 3 high along y
    silo = src.load("fg-Agriculture__silo-red", rng)
    assert isinstance(silo, Shape)
    assert silo.mesh.meta["author"] == "FlightGear contributors"


def test_textured_shape(tmp_path):
    models = make_tree(tmp_path)
    (models / "Agriculture/silo-red.ac").unlink()  # now the textured silo is listed
    src = FlightGearSource(models)
    silo = src.load("fg-Buildings__silo", np.random.default_rng(1))
    assert isinstance(silo, Shape)
    assert silo.mesh.texture is not None and silo.mesh.uv is not None
    ext = silo.mesh.vertices.max(0) - silo.mesh.vertices.min(0)
    assert ext[1] == ext.max()  # a silo stands along +y


def test_unreadable_is_dropped(tmp_path):
    models = make_tree(tmp_path)
    (models / "Transport/bus.ac").write_text("AC3Db\nOBJECT world\nkids 1\n")
    result = FlightGearSource(models).load("fg-Transport__bus", np.random.default_rng(0))
    assert isinstance(result, Dropped) and result.reason == "unreadable"


def test_impostor_is_listed_then_dropped(tmp_path):
    models = make_tree(tmp_path)
    (models / "Geometry/Nimitz/Models/mule-11.ac").write_text(box_ac((5, 1, 2), None))
    src = FlightGearSource(models)
    assert ("fg-Geometry__Nimitz__Models__mule-11", "vehicle") in src.list_shapes(100)
    result = src.load("fg-Geometry__Nimitz__Models__mule-11", np.random.default_rng(0))
    assert isinstance(result, Dropped) and result.reason == "impostor"


def test_real_package():
    if deb_file(PACKAGE) is None:
        pytest.skip(
            f"Debian package {PACKAGE} is not installed: run "
            "`python -m training.data install --sources flightgear`"
        )
    src = FlightGearSource()
    listed = dict(src.list_shapes(10_000))
    assert 200 < len(listed) < 400
    assert {"building", "vehicle", "ship", "aircraft", "prop"} <= set(listed.values())
    assert not any("Weather" in s or "Astro" in s or "light" in s.lower() for s in listed)
    silo = src.load("fg-Agriculture__silo", np.random.default_rng(0))
    assert isinstance(silo, Shape), silo
    ext = silo.mesh.vertices.max(0) - silo.mesh.vertices.min(0)
    assert ext[1] == ext.max()  # stands Y-up as stored
    assert silo.mesh.texture is not None
    assert silo.mesh.meta["licence"] == "GPL-2+"
