"""One place to read the settings: preferences, with environment overrides for headless runs.

Headless runs (tests, `blender -b` batches) may have no saved preferences, so every value also has
an environment variable: SLICE3D_PYTHON, SLICE3D_SERVER_URL, SLICE3D_TOKEN, SLICE3D_DEVICE.
"""

from __future__ import annotations

import os
from typing import Any

import bpy

from ..client.backend_process import BackendConfig
from . import paths


def addon_prefs() -> Any:
    """The AddonPreferences instance, or None when the add-on is not enabled through Blender."""
    addon = bpy.context.preferences.addons.get(paths.ADDON_PACKAGE)
    return addon.preferences if addon else None


def backend_config() -> BackendConfig:
    """The effective backend settings (environment variables win over preferences)."""
    prefs = addon_prefs()
    mode = getattr(prefs, "backend_mode", "LOCAL")
    python = getattr(prefs, "python_path", "") or ""
    installed = mode == "INSTALLED"
    if installed or (not python and os.path.exists(paths.venv_python())):
        python = paths.venv_python()
    mode = "REMOTE" if mode == "REMOTE" else "LOCAL"
    url = getattr(prefs, "server_url", "") or ""
    token = getattr(prefs, "server_token", "") or ""
    device = getattr(prefs, "device", "auto") or "auto"
    timeout = float(getattr(prefs, "startup_timeout", 180.0))
    env = os.environ
    if env.get("SLICE3D_PYTHON"):
        python, mode, installed = env["SLICE3D_PYTHON"], "LOCAL", False
    if env.get("SLICE3D_SERVER_URL"):
        url, mode = env["SLICE3D_SERVER_URL"], "REMOTE"
        token = env.get("SLICE3D_TOKEN", token)
    device = env.get("SLICE3D_DEVICE", device)
    python = bpy.path.abspath(python) if python else ""
    return BackendConfig(mode, python, device, url.rstrip("/"), token, timeout,
                         state_dir=paths.user_dir("backend"), backend_root=paths.backend_root(),
                         models_dir=paths.models_dir(), online_access=bpy.app.online_access,
                         installed=installed and mode == "LOCAL",
                         max_upload_mb=int(env.get("SLICE3D_MAX_UPLOAD_MB") or 0))
