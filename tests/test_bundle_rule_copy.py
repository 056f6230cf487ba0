"""The Blender side's copy of the bundle-folder rule (client/bundle_safety.py) agrees with the
backend's (backend/bundle.py): the layer rule keeps two files, this test keeps one rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from backend import bundle
from client import bundle_safety


def test_the_constants_are_the_same() -> None:
    for name in ("MARKER_NAME", "MARKER_MAGIC", "MARKER_MAX_BYTES", "BUNDLE_FILES", "SLICE_FILES",
                 "VIEWS_DIR", "VIEW_FILES"):
        assert getattr(bundle_safety, name) == getattr(bundle, name), name


def _ours(folder: Path) -> None:
    (folder / "slices").mkdir(parents=True)
    (folder / "slices" / "X1.png").write_bytes(b"png")
    (folder / "mesh.glb").write_bytes(b"glb")
    (folder / "result.json").write_text("{}")
    (folder / bundle.MARKER_NAME).write_text(bundle.MARKER_MAGIC + "\n")


CASES = {
    "ours": lambda f: None,
    "no marker": lambda f: (f / bundle.MARKER_NAME).unlink(),
    "wrong magic": lambda f: (f / bundle.MARKER_NAME).write_text("slice3d-bundle 2\n"),
    "magic on line two": lambda f: (f / bundle.MARKER_NAME).write_text("x\nslice3d-bundle 1\n"),
    "crlf marker": lambda f: (f / bundle.MARKER_NAME).write_bytes(b"slice3d-bundle 1\r\n"),
    "huge marker": lambda f: (f / bundle.MARKER_NAME).write_text("slice3d-bundle 1\n" + "x" * 300),
    "a user's file": lambda f: (f / "my_notes.txt").write_text("mine"),
    "a user's folder": lambda f: (f / "photos").mkdir(),
    "odd slice": lambda f: (f / "slices" / "holiday.jpg").write_bytes(b"jpg"),
    "views": lambda f: ((f / "views").mkdir(), (f / "views" / "1.png").write_bytes(b"png")),
    "odd view": lambda f: ((f / "views").mkdir(), (f / "views" / "holiday.jpg").write_bytes(b"x")),
    "view 0": lambda f: ((f / "views").mkdir(), (f / "views" / "0.png").write_bytes(b"png")),
    "no result.json": lambda f: (f / "result.json").unlink(),
    "a link inside": lambda f: os.symlink("/etc/hostname", f / "input.png"),
    "marker is a link": lambda f: ((f / bundle.MARKER_NAME).unlink(),
                                   os.symlink(f / "result.json", f / bundle.MARKER_NAME)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_sides_give_the_same_verdict(tmp_path: Path, case: str) -> None:
    folder = tmp_path / "wheel"
    _ours(folder)
    CASES[case](folder)
    verdict = bundle.is_bundle(folder)
    assert bundle_safety.is_bundle(str(folder)) == verdict
    assert verdict == (case in ("ours", "crlf marker", "views")), case
