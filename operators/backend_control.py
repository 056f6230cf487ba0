"""Start, stop and restart the backend by hand (it also starts by itself on first use)."""

from __future__ import annotations

import bpy

from ..ui import backend_watch
from ..ui.state import MANAGER, UI
from ..ui.widgets import tag_redraw


def _start(op: bpy.types.Operator) -> set[str]:
    if bpy.app.background:
        status = MANAGER.wait_ready()
    else:
        status = MANAGER.ensure_started()
        backend_watch.start()
    if status.state == "error":
        op.report({"ERROR"}, status.message)
        return {"CANCELLED"}
    UI.clear_error()  # an error from before the (re)start is stale now
    return {"FINISHED"}


def _stop() -> None:
    backend_watch.stop()
    MANAGER.stop()


def _busy(cls: type) -> bool:
    if UI.job_running:
        cls.poll_message_set("Wait for the running reconstruction, or cancel it")
        return True
    return False


class _BackendAction:
    """execute(): do `act()`, then redraw the sidebars that show the backend's status."""

    def act(self) -> set[str]:
        raise NotImplementedError

    def execute(self, context: bpy.types.Context) -> set[str]:
        outcome = self.act()
        tag_redraw(context)
        return outcome


class SLICE3D_OT_backend_start(_BackendAction, bpy.types.Operator):
    """Start the reconstruction backend now (otherwise it starts on the first Reconstruct)"""

    bl_idname = "slice3d.backend_start"
    bl_label = "Start Backend"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if MANAGER.status.state in ("ready", "busy", "starting"):
            cls.poll_message_set("The backend is already running")
            return False
        return True

    def act(self) -> set[str]:
        return _start(self)


class SLICE3D_OT_backend_stop(_BackendAction, bpy.types.Operator):
    """Stop the reconstruction backend and free its memory"""

    bl_idname = "slice3d.backend_stop"
    bl_label = "Stop Backend"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if _busy(cls):
            return False
        if MANAGER.proc is None and MANAGER.client is None and MANAGER.status.state == "stopped":
            cls.poll_message_set("The backend is not running")
            return False
        return True

    def act(self) -> set[str]:
        _stop()
        return {"FINISHED"}


class SLICE3D_OT_backend_restart(_BackendAction, bpy.types.Operator):
    """Stop the backend and start it again (after an error, or to pick up new settings)"""

    bl_idname = "slice3d.backend_restart"
    bl_label = "Restart Backend"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return not _busy(cls)

    def act(self) -> set[str]:
        _stop()
        return _start(self)


CLASSES = (SLICE3D_OT_backend_start, SLICE3D_OT_backend_stop, SLICE3D_OT_backend_restart)
