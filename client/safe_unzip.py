"""Result bundles from zips: extract without letting a member escape, find the bundle inside."""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile


def safe_extract(zf: zipfile.ZipFile, folder: str) -> None:
    """Extract without letting a member escape the folder."""
    root = os.path.realpath(folder)
    for member in zf.namelist():
        target = os.path.realpath(os.path.join(root, member))
        if not target.startswith(root + os.sep) and target != root:
            raise ValueError(f"Unsafe path in result bundle: {member}")
    zf.extractall(root)


def bundle_folder(path: str) -> tuple[str, str]:
    """(bundle folder, temp folder to delete or '') for a folder, a file inside one, or a zip."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"No such file or folder: {path}")
    if zipfile.is_zipfile(path):
        tmp = tempfile.mkdtemp(prefix="slice3d-bundle-")
        try:
            with zipfile.ZipFile(path) as zf:
                safe_extract(zf, tmp)
            return zip_bundle_root(tmp), tmp
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    folder = path if os.path.isdir(path) else os.path.dirname(path)
    return folder, ""


def zip_bundle_root(folder: str) -> str:
    """Where an extracted zip keeps result.json: at its top, or in its one bundle folder (a zipped
    folder, as `zip -r` or a file manager's Compress makes it)."""
    if os.path.isfile(os.path.join(folder, "result.json")):
        return folder
    inner = [entry.path for entry in os.scandir(folder) if entry.is_dir(follow_symlinks=False)
             and os.path.isfile(os.path.join(entry.path, "result.json"))]
    if len(inner) != 1:
        raise ValueError("Not a Slice3D result bundle (no result.json at the top of the zip or "
                         "in one folder in it)")
    return inner[0]
