"""Reconstruct many images: the headless batch (scripts/batch.py) and the Batch Folder operator."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass

import bpy
from bpy.props import StringProperty

from . import image_source, props, scene_import
from .jobs import UI, Job, JobOptions
from .reconstruct import TIMER_STEP_S, Throttle, job_options, tag_redraw

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".exr", ".tga")


@dataclass
class BatchItem:
    """The outcome for one input image."""

    path: str
    ok: bool = False
    message: str = ""
    bundle: str = ""
    collection: str = ""


def collect_inputs(items: Iterable[str]) -> list[str]:
    """Files as given, and the image files of any folder (sorted); missing paths are kept."""
    out: list[str] = []
    for item in items:
        if os.path.isdir(item):
            out += sorted(os.path.join(item, n) for n in os.listdir(item)
                          if n.lower().endswith(IMAGE_EXTENSIONS))
        else:
            out.append(item)
    return out


def bundle_dir_for(output: str, stem: str, taken: set[str]) -> str:
    """OUTDIR/<stem>/, or <stem>-2/ ... when two inputs of this batch share a stem. A folder left
    by an earlier run is replaced, as `python -m backend reconstruct -o` does."""
    path, n = os.path.join(output, stem), 2
    while path in taken:
        path, n = os.path.join(output, f"{stem}-{n}"), n + 1
    taken.add(path)
    return path


def start_item(path: str, options: JobOptions) -> Job | str:
    """A Job for one file, or an error message if the file cannot be read."""
    try:
        data = image_source.file_bytes(path)
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: Blender could not load it
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"
    return Job(data, os.path.basename(path), options)


def finish_item(context: bpy.types.Context | None, item: BatchItem, job: Job, output: str,
                axes: tuple[str, ...] | None, taken: set[str]) -> None:
    """Keep the bundle under `output` and, when `axes` is given, import it into the scene."""
    if job.outcome != "done":
        item.message = job.error or job.outcome
        return
    try:
        if output:
            os.makedirs(output, exist_ok=True)
            stem = os.path.splitext(os.path.basename(item.path))[0]
            item.bundle = bundle_dir_for(output, stem, taken)
            if os.path.isdir(item.bundle):
                shutil.rmtree(item.bundle)
            shutil.copytree(job.bundle_dir, item.bundle)
        if axes is not None and context is not None:
            coll = scene_import.build_scene(context, job.bundle_dir, source=item.path,
                                            name=os.path.basename(item.path), job_id=job.job_id,
                                            axes=axes)
            item.collection = coll.name
        item.ok, item.message = True, "ok"
    except Exception as exc:  # noqa: BLE001 - one bad result must not stop the batch
        item.message = f"import failed: {exc}"
    finally:
        job.discard_bundle()


def run_batch(context: bpy.types.Context | None, inputs: list[str], output: str,
              options: JobOptions, axes: tuple[str, ...] | None = None,
              log=print) -> list[BatchItem]:
    """Synchronously reconstruct every input; failures are recorded and the batch goes on."""
    results: list[BatchItem] = []
    taken: set[str] = set()
    for n, path in enumerate(inputs, 1):
        item = BatchItem(path)
        job = start_item(path, options)
        if isinstance(job, str):
            item.message = job
        else:
            UI.job = job
            job.run_sync()
            finish_item(context, item, job, output, axes, taken)
        results.append(item)
        log(f"[{n}/{len(inputs)}] {'OK  ' if item.ok else 'FAIL'} {path}: "
            f"{item.bundle or item.message}")
    return results


class SLICE3D_OT_batch(bpy.types.Operator):
    """Reconstruct every image in a folder, import each result, and keep the bundles"""

    bl_idname = "slice3d.batch"
    bl_label = "Batch Folder"
    bl_options = {"REGISTER", "UNDO"}

    directory: StringProperty(subtype="DIR_PATH", name="Images")
    output: StringProperty(subtype="DIR_PATH", name="Output",
                           description="Where to keep the result bundles (empty: do not keep)")

    _timer = None
    _job: Job | None = None  # cancel() also runs when the file browser is cancelled, before execute

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if UI.job is not None and not UI.job.finished:
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
        settings = props.settings(context)
        self._options, self._axes = job_options(settings), settings.axes()
        self._out = bpy.path.abspath(self.output) if self.output else ""
        self._results: list[BatchItem] = []
        self._taken: set[str] = set()
        self._job = None
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        if not self._prepare(context):
            return {"CANCELLED"}
        if bpy.app.background or context.window is None:
            self._results = run_batch(context, self._inputs, self._out, self._options, self._axes)
            return self._report()
        self._next()
        self._throttle = Throttle()
        wm = context.window_manager
        self._timer = wm.event_timer_add(TIMER_STEP_S, window=context.window)
        wm.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def _next(self) -> None:
        """Start the next input (recording unreadable files at once)."""
        self._job = None
        while self._inputs and self._job is None:
            self._item = BatchItem(self._inputs.pop(0))
            job = start_item(self._item.path, self._options)
            if isinstance(job, str):
                self._item.message = job
                self._results.append(self._item)
            else:
                self._job = UI.job = job

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if event.type != "TIMER" or not self._throttle.ready():
            return {"PASS_THROUGH"}
        if self._job is not None:
            self._job.step()
            tag_redraw(context)
            if not self._job.finished:
                return {"PASS_THROUGH"}
            if self._job.outcome == "cancelled":
                self._inputs.clear()
            finish_item(context, self._item, self._job, self._out, self._axes, self._taken)
            self._results.append(self._item)
            self._next()
        if self._job is not None:
            return {"PASS_THROUGH"}
        self._remove_timer(context)
        return self._report()

    def cancel(self, context: bpy.types.Context) -> None:
        if self._job is not None:
            self._job.cancel()
        self._remove_timer(context)

    def _remove_timer(self, context: bpy.types.Context) -> None:
        if self._timer is not None:
            context.window_manager.event_timer_remove(self._timer)
            self._timer = None

    def _report(self) -> set[str]:
        good = sum(r.ok for r in self._results)
        UI.last_message = f"Batch: {good} of {len(self._results)} images reconstructed"
        self.report({"INFO"} if good == len(self._results) else {"WARNING"}, UI.last_message)
        return {"FINISHED"} if good else {"CANCELLED"}


CLASSES = (SLICE3D_OT_batch,)
