"""The one rule for replacing a bundle folder, as the backend keeps it (backend/bundle.py).

A folder is ours only if it holds the marker file ``.slice3d-bundle`` whose first line is
``MARKER_MAGIC`` and nothing but bundle files besides; anything else is refused, never deleted.
The Blender side cannot import backend/, so the rule is mirrored here (the names are the
backend's, docs/API.md). A bundle unpacked from the backend's zip is marked here as ours.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat

from .contract import MAX_VIEWS

MARKER_NAME = ".slice3d-bundle"
MARKER_MAGIC = "slice3d-bundle 1"  # the marker file's first line, exactly
MARKER_MAX_BYTES = 256
BUNDLE_FILES = frozenset({"mesh.glb", "mesh.obj", "input.png", "sdf.npy", "result.json",
                          "texture.png", MARKER_NAME})
SLICE_NAMES = tuple(f"{axis}{k}" for axis in "XYZ" for k in range(1, 5))
SLICE_FILES = frozenset(f"{name}.png" for name in SLICE_NAMES)
VIEWS_DIR = "views"  # views/<k>.png: photo k's framed model input, k >= 1 (several photos)
VIEW_FILES = frozenset(f"{k}.png" for k in range(1, MAX_VIEWS))


class NotOurFolder(RuntimeError):
    """A folder at a bundle's path that is not one of our bundles: left as it is."""

    def __init__(self, folder: str) -> None:
        super().__init__(
            f"{folder} exists and is not a Slice3D bundle (no {MARKER_NAME} marker, or files "
            "that are not a bundle's), so it was left as it is; choose another output folder")
        self.folder = folder


def write_marker(folder: str) -> None:
    """Mark a complete bundle folder as ours."""
    with open(os.path.join(folder, MARKER_NAME), "w", encoding="utf-8") as fh:
        fh.write(MARKER_MAGIC + "\n")


def has_marker(folder: str) -> bool:
    """The marker is there, a plain small file, and its first line is MARKER_MAGIC."""
    marker = os.path.join(folder, MARKER_NAME)
    try:
        info = os.lstat(marker)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MARKER_MAX_BYTES:
            return False
        with open(marker, "rb") as fh:
            first = fh.read(MARKER_MAX_BYTES).split(b"\n", 1)[0]
    except OSError:
        return False
    return first.rstrip(b"\r") == MARKER_MAGIC.encode()


def _only(folder: str, names: frozenset[str]) -> bool:
    return all(entry.name in names and entry.is_file(follow_symlinks=False)
               for entry in os.scandir(folder))


def is_bundle(folder: str) -> bool:
    """Our marker, result.json, and bundle files only: the one thing a rewrite may replace."""
    if os.path.islink(folder) or not os.path.isdir(folder) or not has_marker(folder):
        return False
    if not os.path.isfile(os.path.join(folder, "result.json")):
        return False
    for entry in os.scandir(folder):
        if entry.is_symlink():
            return False
        if entry.name in ("slices", VIEWS_DIR) and entry.is_dir():
            if not _only(entry.path, SLICE_FILES if entry.name == "slices" else VIEW_FILES):
                return False
        elif entry.name not in BUNDLE_FILES or not entry.is_file():
            return False
    return True


def check_replaceable(folder: str) -> None:
    """Raise NotOurFolder if `folder` exists and is not one of our bundles."""
    if (os.path.lexists(folder)) and not is_bundle(folder):
        raise NotOurFolder(folder)


def copy_bundle(source: str, target: str) -> str:
    """Copy the bundle folder `source` to `target`, marked as ours. An earlier bundle at
    `target` is replaced only once the copy is complete; anything else there is refused."""
    check_replaceable(target)
    parent = os.path.dirname(os.path.abspath(target))
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(os.path.normpath(target))
    staging = os.path.join(parent, f".{name[:100]}.new-{os.getpid()}-{secrets.token_hex(6)}")
    try:
        shutil.copytree(source, staging)
        write_marker(staging)
        if os.path.lexists(target):
            check_replaceable(target)  # still ours: then swap it out
            trash = os.path.join(parent, f".{name[:100]}.old-{os.getpid()}-"
                                         f"{secrets.token_hex(6)}")
            os.rename(target, trash)
            os.rename(staging, target)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(staging, target)
    finally:
        if os.path.isdir(staging):
            shutil.rmtree(staging, ignore_errors=True)
    return target


def free_bundle_path(parent: str, stem: str) -> str:
    """parent/stem, or parent/stem-2 ... : the first name nothing uses yet (never replaces)."""
    path, n = os.path.join(parent, stem), 2
    while os.path.lexists(path):
        path, n = os.path.join(parent, f"{stem}-{n}"), n + 1
    return path


def keep_result(bundle_dir: str, folder: str, stem: str) -> str:
    """Move a downloaded bundle to folder/<stem> (or <stem>-2 ...: nothing is replaced), marked
    as ours; its new path."""
    os.makedirs(folder, exist_ok=True)
    safe_stem = "".join(c if c.isalnum() or c in "-_ ." else "_" for c in stem).strip(". ")
    target = free_bundle_path(folder, safe_stem[:100] or "result")
    if not has_marker(bundle_dir):
        write_marker(bundle_dir)
    shutil.move(bundle_dir, target)
    return target
