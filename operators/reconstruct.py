"""Reconstruct and Cancel: a modal timer operator in the UI, a synchronous loop headless."""

from __future__ import annotations

import os

import bpy

from ..client.bundle_safety import keep_result
from ..client.remote_job import RemoteJob
from ..client.views import ViewsError
from ..scene import build, image_source
from ..ui import backend_watch, paths, props, settings, state
from ..ui.state import UI
from ..ui.widgets import tag_redraw
from .modal_base import ModalTimerOperator


class SLICE3D_OT_reconstruct(ModalTimerOperator, bpy.types.Operator):
    """Reconstruct a mesh, slice planes and a camera from the chosen image"""

    bl_idname = "slice3d.reconstruct"
    bl_label = "Reconstruct"
    # UNDO alone: one undo step per import. REGISTER would let Repeat Last (Shift+R) and the
    # redo panel call the synchronous execute(), freezing the UI for a whole reconstruction.
    bl_options = {"UNDO"}

    _job = None  # the RemoteJob this operator runs
    _source = ""
    _name = ""
    _photo_names: tuple[str, ...] = ()  # the photos' names in input order (several photos)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if UI.job_running:
            cls.poll_message_set("A reconstruction is already running")
            return False
        if getattr(context.scene, "slice3d", None) is None:
            return False
        if image_source.chosen_image(context) is None:
            cls.poll_message_set("Choose an image first (sidebar, or the Image Editor's image)")
            return False
        problem = image_source.photos_problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def _start(self, context: bpy.types.Context) -> bool:
        """Read the photos and start the job; False (reported, nothing started) when a photo
        cannot be read or the set cannot be sent."""
        problem = image_source.photos_problem(context)
        if problem:
            self.report({"ERROR"}, problem)
            return False
        images = [image_source.chosen_image(context), *image_source.extra_photos(context)]
        data = []
        for k, image in enumerate(images):
            try:
                data.append(image_source.image_bytes(image))
            except (OSError, ValueError, RuntimeError) as exc:
                what = "the image" if len(images) == 1 else f'photo {k + 1} ("{image.name}")'
                self.report({"ERROR"}, f"Cannot read {what}: {exc}")
                return False
        opts = props.settings(context)
        self._source, self._name = data[0][1], images[0].name
        self._photo_names = tuple(image.name for image in images)
        try:
            self._job = state.start_job(data[0][0], images[0].name, props.job_options(opts),
                                        more_images=[d for d, _ in data[1:]],
                                        poses=props.poses(opts))
        except ViewsError as exc:
            self.report({"ERROR"}, str(exc))
            return False
        UI.say("")
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        """Synchronous: headless runs and scripts wait here until the job ends."""
        if not self._start(context):
            return {"CANCELLED"}
        self._job.run_sync()
        return self.finish(context)

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if self.headless(context):
            return self.execute(context)
        if not self._start(context):
            return {"CANCELLED"}
        backend_watch.start()
        return self.start_timer(context)

    def tick(self, context: bpy.types.Context) -> bool:
        self._job.step()
        tag_redraw(context)
        return self._job.finished

    def finish(self, context: bpy.types.Context) -> set[str]:
        """Import the finished job's bundle (or report why not), then keep the bundle."""
        job = self._job
        UI.last_timings = dict(job.timings)
        if job.outcome != "done":
            cancelled = job.outcome == "cancelled"
            UI.say("Reconstruction cancelled" if cancelled
                   else f"Reconstruction failed: {job.error}", error=not cancelled)
            self.report({"WARNING" if cancelled else "ERROR"}, UI.last_message)
            return {"CANCELLED"}
        opts = props.settings(context)
        try:
            coll = build.build_scene(context, job.bundle_dir, source=self._source,
                                     name=self._name, job_id=job.job_id, axes=opts.axes(),
                                     square_render=opts.square_render,
                                     scene_camera=opts.scene_camera, smooth=opts.smooth_shading,
                                     photo_names=self._photo_names)
        except Exception as exc:  # noqa: BLE001 - any import error is reported, the scene untouched
            job.discard_bundle()
            UI.say(f"Import failed: {exc}", error=True)
            self.report({"ERROR"}, UI.last_message)
            return {"CANCELLED"}
        UI.last_collection = coll.name
        kept = self._keep(job, coll)
        left_out = build.photo_messages(coll, self._photo_names)
        UI.say(f'Added "{coll.name}"' + (f"; the result is kept in {kept}" if kept else "")
               + "".join(f". {line.rstrip('.')}" for line in left_out) + ("." if left_out else ""))
        self.report({"WARNING"} if left_out else {"INFO"}, UI.last_message)
        return {"FINISHED"}

    def _keep(self, job: RemoteJob, coll: bpy.types.Collection) -> str:
        """Move the bundle where the user finds it again (File > Import > Slice3D Result)."""
        prefs = settings.addon_prefs()
        folder = paths.results_dir(getattr(prefs, "results_folder", "") or "")
        try:
            kept = keep_result(job.bundle_dir, folder, os.path.splitext(self._name)[0])
        except OSError as exc:
            job.discard_bundle()
            self.report({"WARNING"}, f"The result bundle could not be kept in {folder}: {exc}")
            return ""
        job.bundle_dir = kept
        coll["slice3d_bundle"] = kept
        return kept

    def on_cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the modal (file load, quit): cancel the backend job too."""
        if self._job is not None:
            self._job.cancel()
            if self._job.outcome != "done":
                self._job.discard_bundle()


class SLICE3D_OT_cancel(bpy.types.Operator):
    """Stop the running reconstruction; nothing is added to the scene"""

    bl_idname = "slice3d.cancel"
    bl_label = "Cancel"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not UI.job_running:
            cls.poll_message_set("No reconstruction is running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        UI.cancel_job()
        tag_redraw(context)
        return {"FINISHED"}


CLASSES = (SLICE3D_OT_reconstruct, SLICE3D_OT_cancel)
