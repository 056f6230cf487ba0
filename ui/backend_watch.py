"""Keep an eye on the backend from the UI: follow a start, notice a crash while idle.

No timers run headless and none are needed there; the operators call `start()` in the UI.
"""

from __future__ import annotations

import bpy

from .state import MANAGER
from .widgets import tag_redraw

STARTUP_POLL_S = 0.5
WATCH_S = 3.0


def tick() -> float | None:
    """bpy.app.timers callback: follow a starting backend until it is ready, then notice a crash
    while idle so the panel shows the error at once (the next run restarts it)."""
    before = MANAGER.status.state
    if before == "starting":
        MANAGER.ensure_started()
    else:
        MANAGER.notice_crash()
    if MANAGER.status.state != before:
        tag_redraw(bpy.context, ("VIEW_3D", "IMAGE_EDITOR", "PREFERENCES"))
    if MANAGER.status.state == "starting":
        return STARTUP_POLL_S
    return WATCH_S if MANAGER.proc is not None else None


def start() -> None:
    """Watch from now on (in the UI; headless runs have no timers)."""
    if not bpy.app.background and not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=STARTUP_POLL_S)


def stop() -> None:
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
