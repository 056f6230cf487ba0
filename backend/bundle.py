"""The result bundle (DESIGN section 5): written whole into a folder, or not at all."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from .geometry import SLICE_NAMES


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
    replaced only once the new one is complete.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
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
            old = out_dir.with_name(f".{out_dir.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out_dir.rename(old)
            staging.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def zip_bundle(bundle_dir: Path) -> bytes:
    """The bundle as a zip with its files at the root (what GET /jobs/{id}/result returns)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(Path(bundle_dir).rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(bundle_dir).as_posix())
    return buf.getvalue()
