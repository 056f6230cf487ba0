"""Sources: the OFF parser, the installer's message for a missing package, and the
procedural source's stable ids."""

from __future__ import annotations

import multiprocessing as mp
import zipfile
import zlib

import numpy as np
import pytest

from training.data.sources.base import Dropped
from training.data.sources.cgal import family_of, parse_off
from training.data.sources.install import DEB_FILES, SourceMissing, require_deb
from training.data.sources.procedural import ProceduralSource


def test_parse_off_triangulates_polygons():
    text = "OFF\n# a unit square pyramid\n5 5 0\n0 0 0\n1 0 0\n1 0 1\n0 0 1\n0.5 1 0.5\n"
    text += "4 0 1 2 3\n3 0 4 1\n3 1 4 2\n3 2 4 3\n3 3 4 0\n"
    v, f = parse_off(text)
    assert v.shape == (5, 3) and f.shape == (6, 3)
    v2, f2 = parse_off("COFF 3 1 0\n0 0 0 255 0 0\n1 0 0 0 255 0\n0 1 0 0 0 255\n3 0 1 2\n")
    assert v2.shape == (3, 3) and f2.tolist() == [[0, 1, 2]]
    assert family_of("bunny00") == "organic" and family_of("anchor_dense") == "mechanical"


def test_missing_package_message(monkeypatch, tmp_path):
    monkeypatch.setenv("SLICE3D_SOURCES", str(tmp_path))
    monkeypatch.setitem(DEB_FILES, "no-such-package", "usr/share/nothing/here.zip")
    with pytest.raises(SourceMissing, match="python -m training.data install"):
        require_deb("no-such-package")


def test_procedural_source():
    src = ProceduralSource()
    ids = src.list_shapes(30)
    assert len({i for i, _ in ids}) == 30 and len({f for _, f in ids}) >= 8
    a = src.load(ids[0][0], np.random.default_rng(0))
    b = src.load(ids[0][0], np.random.default_rng(1))
    assert not isinstance(a, Dropped) and not isinstance(b, Dropped)
    np.testing.assert_array_equal(a.mesh.vertices, b.mesh.vertices)  # the id fixes the shape


def _read_members(names: list[str]) -> list[int]:
    """In a build worker: read each member through the source's zip, return their CRCs."""
    from training.data.sources import zeroad

    return [zlib.crc32(zeroad._zip().read(n)) for n in names]


def test_0ad_zip_is_not_shared_with_forked_workers(monkeypatch, tmp_path):
    # The parent opens the zip while planning; build workers are forked. If they inherited the
    # parent's open ZipFile they would share one file offset and concurrent reads would fail
    # with BadZipFile (it dropped most 0ad shapes in a --workers 2 build).
    from training.data.sources import zeroad

    rng = np.random.default_rng(0)
    data = [rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes() for _ in range(6)]
    members = {f"m{i}.bin": d for i, d in enumerate(data)}
    path = tmp_path / "public.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    monkeypatch.setattr(zeroad, "require_deb", lambda package: path)
    monkeypatch.setattr(zeroad, "_opened", None)
    zeroad._zip()  # opened in the parent, as planning does
    jobs = [sorted(members)] * 40
    with mp.get_context("fork").Pool(2) as pool:
        crcs = pool.map(_read_members, jobs, chunksize=1)
    want = [zlib.crc32(members[n]) for n in sorted(members)]
    assert all(c == want for c in crcs)
