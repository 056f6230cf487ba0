"""The result bundle (docs/API.md): written whole into a folder, or not at all.

One rule decides what may be replaced: a folder is ours only if it holds the marker file
``.slice3d-bundle`` whose first line is ``MARKER_MAGIC`` (only this module writes it) and nothing
but bundle files besides. Anything else at the bundle's path is refused, never deleted.

A new bundle is written into a hidden sibling (``.NAME.new-<pid>-<hex>``) and swapped into place:
on Linux with one ``renameat2(RENAME_EXCHANGE)``, so at every instant either the old or the new
bundle is at NAME; elsewhere with two renames. Staging folders that a crash left behind
(``.NAME.new-*``, ``.NAME.old-*``) are removed the next time NAME is written.
"""

from __future__ import annotations

import ctypes
import errno
import io
import json
import os
import re
import secrets
import shutil
import stat
import struct
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import numpy as np
import trimesh
from PIL import Image

from .contract import MAX_VIEWS
from .errors import BackendError
from .geometry import SLICE_NAMES

MARKER_NAME = ".slice3d-bundle"
MARKER_MAGIC = "slice3d-bundle 1"  # the marker file's first line, exactly
MARKER_MAX_BYTES = 256
TEXTURE_FILE = "texture.png"  # the mesh's base-colour texture, also inside mesh.glb
BUNDLE_FILES = frozenset({"mesh.glb", "mesh.obj", "input.png", "sdf.npy", "result.json",
                          TEXTURE_FILE, MARKER_NAME})
SLICE_FILES = frozenset(f"{name}.png" for name in SLICE_NAMES)
VIEWS_DIR = "views"  # views/<k>.png: photo k's framed model input, k >= 1 (several photos)
VIEW_FILES = frozenset(f"{k}.png" for k in range(1, MAX_VIEWS))
LEGACY_LEFTOVER_AGE_S = 600.0  # staging names without a pid: removed once this old

_RENAME_NOREPLACE, _RENAME_EXCHANGE = 1, 2
_AT_FDCWD = -100


def write_bundle(
    out_dir: Path,
    mesh: trimesh.Trimesh,
    slices: np.ndarray,
    model_input: np.ndarray,
    result: dict,
    sdf: np.ndarray | None = None,
    texture: np.ndarray | None = None,
    views: dict[int, np.ndarray] | None = None,
) -> Path:
    """Write every file into a hidden sibling folder, then swap it into place.

    ``views`` maps photo k (k >= 1) of a several-photo job to its framed model input (uint8
    RGBA), written as ``views/<k>.png``.

    A crash or cancel half-way leaves no half-written bundle at out_dir, and an existing bundle
    there is replaced only once the new one is complete. Anything but one of our bundles at out_dir
    is refused: `reconstruct chair.jpg -o ~` must not take ~/chair/ with it.
    """
    out_dir = Path(out_dir)
    check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(out_dir)
    staging = _new_sibling_dir(out_dir, "new")
    try:
        # The pictures are encoded on a second thread while this one exports the mesh: PNG's
        # compression lets go of the GIL, and each side is one core's work (docs/BENCHMARKS.md).
        with ThreadPoolExecutor(1) as pool:
            pictures = pool.submit(_write_pictures, staging, slices, model_input, views)
            glb = cast(bytes, mesh.export(file_type="glb"))
            (staging / "mesh.glb").write_bytes(glb)
            if texture is not None:
                (staging / TEXTURE_FILE).write_bytes(glb_image(glb) or _png(texture))
            pictures.result()
        if sdf is not None:
            np.save(staging / "sdf.npy", sdf.astype(np.float16))
        (staging / "result.json").write_text(json.dumps(result, indent=2))
        write_marker(staging)
        _move_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _write_pictures(staging: Path, slices: np.ndarray, model_input: np.ndarray,
                    views: dict[int, np.ndarray] | None) -> None:
    """The slice images, the framed input and the other photos' inputs, as PNG files."""
    (staging / "slices").mkdir()
    for name, image in zip(SLICE_NAMES, slices, strict=True):
        Image.fromarray(image, "RGBA").save(staging / "slices" / f"{name}.png")
    Image.fromarray(model_input, "RGBA").save(staging / "input.png")
    if views:
        (staging / VIEWS_DIR).mkdir()
        for k, image in sorted(views.items()):
            Image.fromarray(image, "RGBA").save(staging / VIEWS_DIR / f"{k}.png")


def _png(image: np.ndarray) -> bytes:
    with io.BytesIO() as buffer:
        Image.fromarray(image).save(buffer, format="png")
        return buffer.getvalue()


def glb_image(glb: bytes) -> bytes | None:
    """The bytes of a binary glTF's only PNG image, or None where it holds none or several.

    texture.png is the glb's base-colour texture byte for byte, so it is taken from there rather
    than compressed a second time."""
    if len(glb) < 20:
        return None
    magic, _, _ = struct.unpack_from("<4sII", glb, 0)
    json_length, json_type = struct.unpack_from("<I4s", glb, 12)
    if magic != b"glTF" or json_type != b"JSON":
        return None
    tree = json.loads(glb[20 : 20 + json_length])
    images = tree.get("images", [])
    if len(images) != 1 or images[0].get("mimeType") != "image/png":
        return None
    view = tree["bufferViews"][images[0]["bufferView"]]
    bin_start = 20 + json_length + 8  # the BIN chunk's data, after its length and type
    begin = bin_start + view.get("byteOffset", 0)
    return glb[begin : begin + view["byteLength"]]


def write_marker(folder: Path) -> None:
    """Mark a complete bundle folder as ours (what a client that unpacks the zip does too)."""
    (Path(folder) / MARKER_NAME).write_text(MARKER_MAGIC + "\n")


def bundle_path(parent: Path, stem: str) -> Path:
    """parent/stem, refusing a stem that is no folder name of its own ('', '.', '..', a path).

    Joining first would hide the problem: ``Path("OUT") / "."`` is OUT itself."""
    if stem in ("", ".", "..") or "/" in stem or "\\" in stem or "\0" in stem:
        raise BackendError(
            "bad_options",
            f"{stem!r} cannot name a bundle folder (the image's name without its extension); "
            "rename the image.",
        )
    return Path(parent) / stem


def check_name(out_dir: Path) -> None:
    """Refuse a bundle path whose last part is not a folder name of its own."""
    bundle_path(Path(out_dir).parent, Path(out_dir).name)


def check_replaceable(out_dir: Path) -> None:
    """Refuse an out_dir that exists and is not one of our bundles, before any work is spent."""
    out_dir = Path(out_dir)
    check_name(out_dir)
    if (out_dir.exists() or out_dir.is_symlink()) and not is_bundle(out_dir):
        raise BackendError(
            "output_exists",
            f"{out_dir} exists and is not a Slice3D bundle (no {MARKER_NAME} marker, or files "
            "that are not a bundle's), so it was left as it is; choose another output folder.",
        )


def has_marker(folder: Path) -> bool:
    """The marker file is there, a plain small file, and its first line is MARKER_MAGIC."""
    marker = Path(folder) / MARKER_NAME
    try:
        info = marker.lstat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MARKER_MAX_BYTES:
            return False
        with open(marker, "rb") as fh:
            first = fh.read(MARKER_MAX_BYTES).split(b"\n", 1)[0]
    except OSError:
        return False
    return first.rstrip(b"\r") == MARKER_MAGIC.encode()


def is_bundle(folder: Path) -> bool:
    """Our marker, result.json, and bundle files only: the one thing a rewrite may replace."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir() or not has_marker(folder):
        return False
    if not (folder / "result.json").is_file():
        return False
    for entry in folder.iterdir():
        if entry.is_symlink():
            return False
        if entry.name in ("slices", VIEWS_DIR) and entry.is_dir():
            allowed = SLICE_FILES if entry.name == "slices" else VIEW_FILES
            if any(p.name not in allowed or not p.is_file() or p.is_symlink()
                   for p in entry.iterdir()):
                return False
        elif entry.name not in BUNDLE_FILES or not entry.is_file():
            return False
    return True


def clean_leftovers(out_dir: Path) -> list[Path]:
    """Remove the staging folders of out_dir that an interrupted write left behind.

    Only hidden folders named exactly as ``_new_sibling_dir`` names them are touched, and only
    when the process that made them is gone (or, for names without a pid, when they are old).
    """
    out_dir = Path(out_dir)
    pattern = re.compile(
        rf"^\.{re.escape(out_dir.name[:100])}\.(?:new|old)-(?:(\d+)-)?[0-9a-f]{{12}}$")
    removed: list[Path] = []
    try:
        siblings = list(out_dir.parent.iterdir())
    except OSError:
        return removed
    for path in siblings:
        match = pattern.match(path.name)
        if not match or path.is_symlink() or not path.is_dir():
            continue
        if _leftover_owner_gone(path, match.group(1)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _leftover_owner_gone(path: Path, pid_text: str | None) -> bool:
    if pid_text is None:
        try:
            return time.time() - path.stat().st_mtime > LEGACY_LEFTOVER_AGE_S
        except OSError:
            return False
    from .server.parent_watch import process_alive

    pid = int(pid_text)
    return pid != os.getpid() and not process_alive(pid)


def _new_sibling_dir(path: Path, tag: str) -> Path:
    """An empty hidden folder beside path; mkdir gives it the umask's mode (mkdtemp's is 0700)."""
    folder = path.with_name(f".{path.name[:100]}.{tag}-{os.getpid()}-{secrets.token_hex(6)}")
    folder.mkdir()
    return folder


def _move_into_place(staging: Path, out_dir: Path) -> None:
    """staging becomes out_dir; an old bundle there is swapped out in one step where possible."""
    if out_dir.exists() or out_dir.is_symlink():
        if _renameat2(staging, out_dir, _RENAME_EXCHANGE):
            shutil.rmtree(staging, ignore_errors=True)  # staging now holds the old bundle
            return
        trash = _new_sibling_dir(out_dir, "old")  # fresh, so no other folder is touched
        out_dir.rename(trash / out_dir.name)
        staging.rename(out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    elif not _renameat2(staging, out_dir, _RENAME_NOREPLACE):
        staging.rename(out_dir)


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux renameat2; False where it is not available (another OS, an old libc or filesystem)."""
    func = _libc_renameat2()
    if func is None:
        return False
    if func(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(dst))


_RENAMEAT2: list = []


def _libc_renameat2():
    if not _RENAMEAT2:
        func = None
        if hasattr(os, "uname") and os.uname().sysname == "Linux":
            try:
                func = ctypes.CDLL(None, use_errno=True).renameat2
                func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                 ctypes.c_uint]
                func.restype = ctypes.c_int
            except (OSError, AttributeError):
                func = None
        _RENAMEAT2.append(func)
    return _RENAMEAT2[0]


def zip_bundle(bundle_dir: Path) -> bytes:
    """The bundle as a zip with its files at the root (what GET /jobs/{id}/result returns).

    The marker stays out: whoever unpacks the zip marks the folder with ``write_marker`` once it
    is complete."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(Path(bundle_dir).rglob("*")):
            if path.is_file() and path.name != MARKER_NAME:
                zf.write(path, path.relative_to(bundle_dir).as_posix())
    return buf.getvalue()
