"""Reconstruct and Cancel: a modal timer operator in the UI, a synchronous loop headless."""

from __future__ import annotations

import time

import bpy

from . import image_source, props, scene_import
from .jobs import UI, Job, JobOptions

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


def job_options(settings: props.Slice3DSceneSettings) -> JobOptions:
    return JobOptions(resolution=int(settings.resolution), face_budget=settings.face_budget,
                      background=settings.background, predictor=settings.predictor,
                      flip_average=settings.flip_average,
                      silhouette_fill=settings.silhouette_fill)


def tag_redraw(context: bpy.types.Context) -> None:
    """Redraw the sidebars that show progress."""
    wm = context.window_manager
    for window in wm.windows if wm else ():
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "IMAGE_EDITOR"):
                area.tag_redraw()


def finish_job(op: bpy.types.Operator, context: bpy.types.Context, job: Job,
               source: str, name: str) -> set[str]:
    """Import a finished job's bundle (or report why not); returns the operator's result."""
    UI.last_timings = dict(job.timings)
    if job.outcome == "cancelled":
        UI.last_message = "Reconstruction cancelled"
        op.report({"WARNING"}, UI.last_message)
        return {"CANCELLED"}
    if job.outcome != "done":
        UI.last_message = f"Reconstruction failed: {job.error}"
        op.report({"ERROR"}, UI.last_message)
        return {"CANCELLED"}
    settings = props.settings(context)
    try:
        coll = scene_import.build_scene(context, job.bundle_dir, source=source, name=name,
                                        job_id=job.job_id, axes=settings.axes(),
                                        square_render=settings.square_render)
    except Exception as exc:  # noqa: BLE001 - any import error is reported, the scene untouched
        UI.last_message = f"Import failed: {exc}"
        op.report({"ERROR"}, UI.last_message)
        return {"CANCELLED"}
    finally:
        job.discard_bundle()
    UI.last_collection = coll.name
    UI.last_message = f'Added "{coll.name}"'
    op.report({"INFO"}, UI.last_message)
    return {"FINISHED"}


class SLICE3D_OT_reconstruct(bpy.types.Operator):
    """Reconstruct a mesh, slice planes and a camera from the chosen image"""

    bl_idname = "slice3d.reconstruct"
    bl_label = "Reconstruct"
    # UNDO alone: one undo step per import. REGISTER would let Repeat Last (Shift+R) and the
    # redo panel call the synchronous execute(), freezing the UI for a whole reconstruction.
    bl_options = {"UNDO"}

    _timer = None
    _throttle = Throttle()
    _job: Job | None = None
    _source = ""
    _name = ""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if UI.job is not None and not UI.job.finished:
            cls.poll_message_set("A reconstruction is already running")
            return False
        if getattr(context.scene, "slice3d", None) is None:
            return False
        if image_source.chosen_image(context) is None:
            cls.poll_message_set("Choose an image first (sidebar, or the Image Editor's image)")
            return False
        return True

    def _start(self, context: bpy.types.Context) -> bool:
        image = image_source.chosen_image(context)
        try:
            data, self._source = image_source.image_bytes(image)
        except (OSError, ValueError, RuntimeError) as exc:
            self.report({"ERROR"}, f"Cannot read the image: {exc}")
            return False
        self._name = image.name
        self._job = Job(data, image.name, job_options(props.settings(context)))
        UI.job = self._job
        UI.last_message = ""
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Synchronous: headless runs and scripts wait here until the job ends."""
        if not self._start(context):
            return {"CANCELLED"}
        self._job.run_sync()
        return finish_job(self, context, self._job, self._source, self._name)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        from .backend_control import watch_backend  # (imports this module: import here)

        watch_backend()
        wm = context.window_manager
        self._throttle = Throttle()
        self._timer = wm.event_timer_add(TIMER_STEP_S, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type != "TIMER" or not self._throttle.ready():
            return {"PASS_THROUGH"}
        self._job.step()
        tag_redraw(context)
        if not self._job.finished:
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        return finish_job(self, context, self._job, self._source, self._name)

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the modal (file load, quit): cancel the backend job too."""
        if self._job is not None:
            self._job.cancel()
            self._job.discard_bundle()
        self._remove_timer(context)

    def _remove_timer(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None


class SLICE3D_OT_cancel(bpy.types.Operator):
    """Stop the running reconstruction; nothing is added to the scene"""

    bl_idname = "slice3d.cancel"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if UI.job is None or UI.job.finished:
            cls.poll_message_set("No reconstruction is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        UI.job.cancel()
        tag_redraw(context)
        return {"FINISHED"}


CLASSES = (SLICE3D_OT_reconstruct, SLICE3D_OT_cancel)
