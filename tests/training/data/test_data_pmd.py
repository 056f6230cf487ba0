"""The 0 A.D. PMD reader: a synthetic round trip, and a real file from the 0ad-data package."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from training.data.pmd import PmdError, PmdMesh, read_pmd, write_pmd
from training.data.sources.install import deb_file


def test_round_trip():
    rng = np.random.default_rng(0)
    m = PmdMesh(
        rng.normal(size=(5, 3)).astype(np.float32),
        rng.normal(size=(5, 3)).astype(np.float32),
        rng.random((5, 2)).astype(np.float32),
        np.array([[0, 1, 2], [2, 3, 4]]),
        4,
    )
    back = read_pmd(write_pmd(m))
    np.testing.assert_array_equal(back.positions, m.positions)
    np.testing.assert_array_equal(back.uv, m.uv)
    np.testing.assert_array_equal(back.faces, m.faces)
    with pytest.raises(PmdError):
        read_pmd(b"NOPE" + bytes(20))
    with pytest.raises(PmdError):
        read_pmd(write_pmd(m)[:60])


def test_real_file():
    path = deb_file("0ad-data")
    if path is None:
        pytest.skip(
            "Debian package 0ad-data is not installed: run "
            "`python -m training.data install --sources 0ad`"
        )
    with zipfile.ZipFile(path) as zf:
        m = read_pmd(zf.read("art/meshes/skeletal/peacock.dae.cached.pmd"))
    assert m.version in (3, 4)
    assert len(m.positions) > 50 and len(m.faces) > 50
    assert m.faces.max() < len(m.positions)
    ext = m.positions.max(0) - m.positions.min(0)
    assert ext[1] > 1.0  # a standing bird, Y up
    assert m.uv.min() >= 0.0 and m.uv.max() <= 1.01
    np.testing.assert_allclose(np.linalg.norm(m.normals, axis=1), 1.0, atol=1e-2)
