"""Slice3D for Blender: one picture of an object in, a mesh with slice images and a camera out.

Registration is quick and imports nothing heavy: the inference runs in a separate backend process
that the add-on talks to over HTTP on loopback (see docs/API.md).
"""

from __future__ import annotations

import atexit

import bpy

from .operators import (
    backend_control,
    batch,
    import_bundle,
    installer,
    options,
    props,
    reconstruct,
)
from .operators.jobs import UI
from .operators.process import MANAGER
from .panels import preferences, sidebar

_CLASSES = (
    *props.CLASSES,
    *preferences.CLASSES,
    *reconstruct.CLASSES,
    *import_bundle.CLASSES,
    *batch.CLASSES,
    *backend_control.CLASSES,
    *installer.CLASSES,
    *options.CLASSES,
    *sidebar.CLASSES,
)


def _shutdown() -> None:
    """Stop everything this add-on started (unregister, and Blender quitting via atexit); a
    backend found running is left to the Blender that started it."""
    if UI.job is not None and not UI.job.finished:
        UI.job.cancel()
    UI.job = None
    installer.stop_all()
    MANAGER.release()


@bpy.app.handlers.persistent
def _on_load_pre(*_args) -> None:
    """A new file drops running modal operators: cancel their backend job as well."""
    if UI.job is not None and not UI.job.finished:
        UI.job.cancel()


def register() -> None:
    for cls in _CLASSES:
        bpy.utils.register_class(cls)
    props.register()
    import_bundle.register()
    bpy.app.handlers.load_pre.append(_on_load_pre)
    atexit.register(_shutdown)


def unregister() -> None:
    atexit.unregister(_shutdown)
    backend_control.stop_startup_timer()
    _shutdown()
    if _on_load_pre in bpy.app.handlers.load_pre:
        bpy.app.handlers.load_pre.remove(_on_load_pre)
    import_bundle.unregister()
    props.unregister()
    for cls in reversed(_CLASSES):
        bpy.utils.unregister_class(cls)
