"""The Batch Folder operator: reconstruct every image in a folder, import each, keep the bundles."""

from __future__ import annotations

import bpy
from bpy.props import StringProperty

from ..client.batch import BatchItem, batch_summary, collect_inputs
from ..client.remote_job import RemoteJob
from ..client.views import Poses
from ..scene.batch import finish_item, run_batch, start_item
from ..ui import props, state
from ..ui.state import UI
from ..ui.widgets import tag_redraw
from .modal_base import ModalTimerOperator


class SLICE3D_OT_batch(ModalTimerOperator, bpy.types.Operator):
    """Reconstruct every image and object folder in a folder, import each, keep the bundles"""

    bl_idname = "slice3d.batch"
    bl_label = "Batch Folder"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(subtype="DIR_PATH", name="Images")
    output: StringProperty(subtype="DIR_PATH", name="Output",
                           description="Where to keep the result bundles (empty: do not keep)")

    _job = None  # cancel() also runs when the file browser is cancelled, before execute

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if UI.job_running:
            cls.poll_message_set("A reconstruction is already running")
            return False
        return getattr(context.scene, "slice3d", None) is not None

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        context.window_manager.fileselect_add(self)
        return {"RUNNING_MODAL"}

    def _prepare(self, context: bpy.types.Context) -> bool:
        """Collect the inputs and options; False (reported) if there is nothing to do."""
        self._inputs = collect_inputs([bpy.path.abspath(self.directory)])
        if not self._inputs:
            self.report({"ERROR"}, f"No images in {self.directory}")
            return False
        opts = props.settings(context)
        self._options, self._axes = props.job_options(opts), opts.axes()
        self._out = bpy.path.abspath(self.output) if self.output else ""
        self._results: list[BatchItem] = []
        self._taken: set[str] = set()
        self._job = None
        return True

    def _start_job(self, image: bytes, name: str, more_images: list[bytes] | None = None,
                   poses: Poses | None = None) -> RemoteJob:
        return state.start_job(image, name, self._options, more_images, poses)

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self._prepare(context):
            return {"CANCELLED"}
        if self.headless(context):
            self._results = run_batch(context, self._inputs, self._out, self._start_job,
                                      self._axes)
            return self._report()
        self._next()
        return self.start_timer(context)

    def _next(self) -> None:
        """Start the next input (recording unreadable files at once)."""
        self._job = None
        while self._inputs and self._job is None:
            self._item = BatchItem(self._inputs.pop(0))
            job = start_item(self._item.path, self._start_job)
            if isinstance(job, str):
                self._item.message = job
                self._results.append(self._item)
            else:
                self._job = job

    def tick(self, context: bpy.types.Context) -> bool:
        """Step the current job; when it ends, keep and import its result, start the next."""
        if self._job is not None:
            self._job.step()
            tag_redraw(context)
            if not self._job.finished:
                return False
            if self._job.outcome == "cancelled":
                self._inputs.clear()
            finish_item(context, self._item, self._job, self._out, self._axes, self._taken)
            self._results.append(self._item)
            self._next()
        return self._job is None

    def finish(self, context: bpy.types.Context) -> set[str]:
        return self._report()

    def on_cancel(self, context: bpy.types.Context) -> None:
        if self._job is not None:
            self._job.cancel()

    def _report(self) -> set[str]:
        UI.say(batch_summary(self._results), error=not any(r.ok for r in self._results))
        good = sum(r.ok for r in self._results)
        self.report({"INFO"} if good == len(self._results) else {"WARNING"}, UI.last_message)
        return {"FINISHED"} if good else {"CANCELLED"}


CLASSES = (SLICE3D_OT_batch,)
