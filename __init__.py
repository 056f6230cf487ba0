"""Slice3D for Blender: one picture of an object in, a mesh with slice images and a camera out.

Registration is quick and imports nothing heavy: the inference runs in a separate backend process
that the add-on talks to over HTTP on loopback (see docs/API.md). The layers (docs/ARCHITECTURE.md):
``client`` (plain Python: HTTP, the backend process, jobs), ``scene`` (building the scene, reading
images), ``ui`` (panels, preferences, settings, the session state) and ``operators``.
"""

from __future__ import annotations

import atexit

import bpy

from .operators import (
    backend_control,
    batch,
    import_bundle,
    installer,
    models,
    options,
    reconstruct,
)
from .ui import backend_watch, preferences, props, sidebar
from .ui.state import INSTALL, MANAGER, UI

_CLASSES = (
    *props.CLASSES,
    *preferences.CLASSES,
    *reconstruct.CLASSES,
    *import_bundle.CLASSES,
    *batch.CLASSES,
    *backend_control.CLASSES,
    *installer.CLASSES,
    *models.CLASSES,
    *options.CLASSES,
    *sidebar.CLASSES,
)


def _shutdown() -> None:
    """Stop everything this add-on started (unregister, and Blender quitting via atexit); a
    backend found running is left to the Blender that started it."""
    UI.cancel_job()
    UI.job = None
    INSTALL.stop()
    MANAGER.release()


@bpy.app.handlers.persistent
def _on_load_pre(*_args) -> None:
    """A new file drops running modal operators: cancel their backend job as well."""
    UI.cancel_job()


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    props.register()
    import_bundle.register()
    bpy.app.handlers.load_pre.append(_on_load_pre)
    atexit.register(_shutdown)


def unregister() -> None:
    atexit.unregister(_shutdown)
    backend_watch.stop()
    _shutdown()
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    import_bundle.unregister()
    props.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
