"""The shared base of the operators that work in steps from a window timer (modal).

Reconstruct, Batch Folder and Install Backend Environment each start some work, then advance it
on TIMER events until it ends. A subclass implements `tick()` (advance a little; True when done),
`finish()` (the operator's result once done) and, when there is something to stop, `on_cancel()`.
"""

from __future__ import annotations

import time

import bpy

TIMER_STEP_S = 0.2


class Throttle:
    """TIMER events come from every timer in the window: act on at most one per interval."""

    def __init__(self, interval: float = TIMER_STEP_S) -> None:
        self.interval = interval
        self.last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self.last < self.interval * 0.9:
            return False
        self.last = now
        return True


class ModalTimerOperator:
    """Mixin for a bpy.types.Operator: run `tick()` on a window timer until it says done."""

    timer_interval_s = TIMER_STEP_S
    _timer = None  # the window timer while modal
    _throttle = Throttle()

    @staticmethod
    def headless(context: bpy.types.Context) -> bool:
        """No window to run a modal in (blender -b, the bpy module, scripts): work synchronously."""
        return bool(bpy.app.background) or context.window is None

    def start_timer(self, context: bpy.types.Context) -> set[str]:
        """Go modal: a timer on this window drives `tick()` from now on."""
        self._throttle = Throttle(self.timer_interval_s)
        wm = context.window_manager
        self._timer = wm.event_timer_add(self.timer_interval_s, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type != "TIMER" or not self._throttle.ready():
            return {"PASS_THROUGH"}
        if not self.tick(context):
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        return self.finish(context)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the modal (file load, quit, a cancelled file browser): stop the work."""
        self.on_cancel(context)
        self._remove_timer(context)

    def tick(self, context: bpy.types.Context) -> bool:
        """Advance the work a little; whether it has ended."""
        raise NotImplementedError

    def finish(self, context: bpy.types.Context) -> set[str]:
        """The operator's result once the work has ended."""
        raise NotImplementedError

    def on_cancel(self, context: bpy.types.Context) -> None:
        """Stop the work (nothing by default)."""

    def _remove_timer(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None
