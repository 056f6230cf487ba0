"""Where the extension lives and where it may write (its per-extension user folder)."""

from __future__ import annotations

import os

import bpy

from ..client.env_installer import InstallPlaces
from ..client.env_installer import venv_python as _venv_python_in

# The add-on's package name ("bl_ext.<repo>.slice3d" when installed as an extension).
ADDON_PACKAGE = (__package__ or "").rpartition(".")[0]

# The extension's own folder; it also carries a copy of backend/ and requirements/.
ADDON_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def user_dir(*parts: str) -> str:
    """A writable folder for this extension (created on demand).

    Extensions get one from Blender; when loaded some other way (a legacy add-on, or the batch
    script importing the source tree) fall back to Blender's user config folder.
    """
    base = os.environ.get("SLICE3D_USER_DIR")
    if not base:
        try:
            base = bpy.utils.extension_path_user(ADDON_PACKAGE, create=True)
        except (ValueError, KeyError, AttributeError, ImportError):
            base = os.path.join(bpy.utils.user_resource("CONFIG"), "slice3d")
    path = os.path.join(base, *parts)
    os.makedirs(path, exist_ok=True)
    return path


def results_dir(chosen: str = "") -> str:
    """Where Reconstruct keeps its bundles: the folder chosen in the preferences, else
    `<blend name>_slice3d/` beside the saved .blend, else the user folder's results/."""
    if chosen:
        return bpy.path.abspath(chosen)
    blend = bpy.data.filepath
    if blend:
        stem = os.path.splitext(os.path.basename(blend))[0]
        return os.path.join(os.path.dirname(blend), f"{stem}_slice3d")
    return user_dir("results")


def backend_root() -> str:
    """The folder whose backend/ package the managed server runs (the extension itself)."""
    return ADDON_ROOT


def models_dir() -> str:
    """The background-removal model kept in the user folder (survives extension updates)."""
    return os.path.join(user_dir(), "models", "u2net")


def venv_dir() -> str:
    """The backend environment created by "Install Backend Environment"."""
    return os.path.join(user_dir(), "venv")


def venv_python() -> str:
    """The interpreter inside the installed backend environment (may not exist yet)."""
    return _venv_python_in(venv_dir())


def install_places() -> InstallPlaces:
    """What "Install Backend Environment" reads and writes."""
    return InstallPlaces(addon_root=ADDON_ROOT, venv_dir=venv_dir(), models_dir=models_dir())
