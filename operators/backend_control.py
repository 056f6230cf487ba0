"""Start, stop and restart the backend by hand (it also starts by itself on first use)."""

from __future__ import annotations

import bpy

from .jobs import UI
from .process import MANAGER, Status
from .reconstruct import tag_redraw

STARTUP_POLL_S = 0.5
WATCH_S = 3.0


def _watch_backend() -> float | None:
    """bpy.app.timers callback: follow a starting backend until it is ready, then notice a crash
    while idle so the panel shows the error at once (the next run restarts it)."""
    before = MANAGER.status.state
    if before == "starting":
        MANAGER.ensure_started()
    elif MANAGER.proc is not None and MANAGER.crash_message():
        MANAGER.status = Status("error", MANAGER.crash_message())
        MANAGER._forget()
    if MANAGER.status.state != before:
        wm = bpy.context.window_manager
        for window in wm.windows if wm else ():
            for area in window.screen.areas:
                if area.type in ("VIEW_3D", "IMAGE_EDITOR", "PREFERENCES"):
                    area.tag_redraw()
    if MANAGER.status.state == "starting":
        return STARTUP_POLL_S
    return WATCH_S if MANAGER.proc is not None else None


def watch_backend() -> None:
    """Keep an eye on the backend from the UI (no timers run headless, none are needed there)."""
    if not bpy.app.background and not bpy.app.timers.is_registered(_watch_backend):
        bpy.app.timers.register(_watch_backend, first_interval=STARTUP_POLL_S)


def stop_startup_timer() -> None:
    if bpy.app.timers.is_registered(_watch_backend):
        bpy.app.timers.unregister(_watch_backend)


def _start(op: bpy.types.Operator) -> set[str]:
    if bpy.app.background:
        status = MANAGER.wait_ready()
    else:
        status = MANAGER.ensure_started()
        watch_backend()
    if status.state == "error":
        op.report({"ERROR"}, status.message)
        return {"CANCELLED"}
    return {"FINISHED"}


def _busy(cls: type) -> bool:
    if UI.job is not None and not UI.job.finished:
        cls.poll_message_set("Wait for the running reconstruction, or cancel it")
        return True
    return False


class SLICE3D_OT_backend_start(bpy.types.Operator):
    """Start the reconstruction backend now (otherwise it starts on the first Reconstruct)"""

    bl_idname = "slice3d.backend_start"
    bl_label = "Start Backend"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if MANAGER.status.state in ("ready", "busy", "starting"):
            cls.poll_message_set("The backend is already running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        outcome = _start(self)
        tag_redraw(context)
        return outcome


class SLICE3D_OT_backend_stop(bpy.types.Operator):
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

    def execute(self, context: bpy.types.Context) -> set[str]:
        stop_startup_timer()
        MANAGER.stop()
        tag_redraw(context)
        return {"FINISHED"}


class SLICE3D_OT_backend_restart(bpy.types.Operator):
    """Stop the backend and start it again (after an error, or to pick up new settings)"""

    bl_idname = "slice3d.backend_restart"
    bl_label = "Restart Backend"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return not _busy(cls)

    def execute(self, context: bpy.types.Context) -> set[str]:
        stop_startup_timer()
        MANAGER.stop()
        outcome = _start(self)
        tag_redraw(context)
        return outcome


CLASSES = (SLICE3D_OT_backend_start, SLICE3D_OT_backend_stop, SLICE3D_OT_backend_restart)
