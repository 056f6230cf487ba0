"""The result bundle (DESIGN section 5): written whole into a folder, or not at all."""

from __future__ import annotations

import io
import json
import secrets
import shutil
import zipfile
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from .errors import BackendError
from .geometry import SLICE_NAMES

BUNDLE_FILES = frozenset({"mesh.glb", "mesh.obj", "input.png", "sdf.npy", "result.json"})
SLICE_FILES = frozenset(f"{name}.png" for name in SLICE_NAMES)


def write_bundle(
    out_dir: Path,
    mesh: trimesh.Trimesh,
    slices: np.ndarray,
    model_input: np.ndarray,
    result: dict,
    sdf: np.ndarray | None = None,
) -> Path:
    """Write every file into a temporary sibling folder, then move it into place in one rename.

    A crash or cancel half-way leaves no half-written bundle, and an existing bundle at out_dir is
    replaced only once the new one is complete. Anything else at out_dir is refused, never
    deleted: `reconstruct chair.jpg -o ~` must not take ~/chair/ with it.
    """
    out_dir = Path(out_dir)
    check_replaceable(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = _new_sibling_dir(out_dir, "new")
    try:
        (staging / "slices").mkdir()
        mesh.export(staging / "mesh.glb", file_type="glb")
        for name, image in zip(SLICE_NAMES, slices, strict=True):
            Image.fromarray(image, "RGBA").save(staging / "slices" / f"{name}.png")
        Image.fromarray(model_input, "RGBA").save(staging / "input.png")
        if sdf is not None:
            np.save(staging / "sdf.npy", sdf.astype(np.float16))
        (staging / "result.json").write_text(json.dumps(result, indent=2))
        if out_dir.exists():
            trash = _new_sibling_dir(out_dir, "old")  # fresh, so no other folder is touched
            out_dir.rename(trash / out_dir.name)
            staging.rename(out_dir)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def check_replaceable(out_dir: Path) -> None:
    """Refuse an out_dir that exists and is not a bundle, before any work is spent on it."""
    if (out_dir.exists() or out_dir.is_symlink()) and not is_bundle(out_dir):
        raise BackendError(
            "output_exists",
            f"{out_dir} exists and is not a Slice3D bundle, so it was left as it is; "
            "choose another output folder.",
        )


def is_bundle(folder: Path) -> bool:
    """Bundle files only, result.json among them: the one thing a rewrite may replace."""
    if folder.is_symlink() or not (folder / "result.json").is_file():
        return False
    for entry in folder.iterdir():
        if entry.is_symlink():
            return False
        if entry.name == "slices" and entry.is_dir():
            if any(p.name not in SLICE_FILES or not p.is_file() for p in entry.iterdir()):
                return False
        elif entry.name not in BUNDLE_FILES or not entry.is_file():
            return False
    return True


def _new_sibling_dir(path: Path, tag: str) -> Path:
    """An empty hidden folder beside path; mkdir gives it the umask's mode (mkdtemp's is 0700)."""
    folder = path.with_name(f".{path.name[:100]}.{tag}-{secrets.token_hex(6)}")
    folder.mkdir()
    return folder


def zip_bundle(bundle_dir: Path) -> bytes:
    """The bundle as a zip with its files at the root (what GET /jobs/{id}/result returns)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(Path(bundle_dir).rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(bundle_dir).as_posix())
    return buf.getvalue()
