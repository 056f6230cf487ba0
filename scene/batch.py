"""Reconstruct many image files and object folders (several photos of one object, listed in
its views.json): read each, run its job, keep its bundle, import its scene.

The headless batch (scripts/batch.py) runs `run_batch`; the Batch Folder operator drives the same
`start_item` and `finish_item` from its timer. Jobs come from the caller's `start_job`, so this
module knows neither the session state nor the operators.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import bpy

from ..client.batch import BatchItem, is_object_folder, keep_bundle, read_object_folder
from ..client.bundle_safety import NotOurFolder
from ..client.remote_job import RemoteJob
from ..client.views import ViewsError, unused_photos
from . import build, image_source

# (image bytes, name[, more photos' bytes, their poses]) -> a new job
StartJob = Callable[..., RemoteJob]


def start_item(path: str, start_job: StartJob) -> RemoteJob | str:
    """A job for one file or object folder, or an error message if it cannot be read."""
    if is_object_folder(path):
        return _start_object(path, start_job)
    try:
        data = image_source.file_bytes(path)
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: Blender could not load it
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"
    return start_job(data, os.path.basename(path))


def _start_object(folder: str, start_job: StartJob) -> RemoteJob | str:
    """One job with every photo an object folder's views.json lists, and their poses."""
    try:
        photos = read_object_folder(folder)
    except ViewsError as exc:
        return str(exc)
    data = []
    for path in photos.paths:
        try:
            data.append(image_source.file_bytes(path))
        except (OSError, RuntimeError, ValueError) as exc:
            return f"cannot read {os.path.basename(path)}: {getattr(exc, 'strerror', None) or exc}"
    return start_job(data[0], os.path.basename(os.path.normpath(folder)), data[1:], photos.poses)


def photo_names(path: str) -> list[str]:
    """The photos' file names of an object folder, in input order (none for an image file)."""
    try:
        return [os.path.basename(p) for p in read_object_folder(path).paths] \
            if is_object_folder(path) else []
    except ViewsError:
        return []


def left_out(bundle_dir: str, names: list[str]) -> list[str]:
    """The sentences for the photos of a finished job that the backend did not use."""
    try:
        return unused_photos(build.read_result(bundle_dir), names)
    except (OSError, ValueError, build.BundleError):
        return []


def finish_item(context: bpy.types.Context | None, item: BatchItem, job: RemoteJob, output: str,
                axes: tuple[str, ...] | None, taken: set[str]) -> None:
    """Keep the bundle under `output` and, when `axes` is given, import it into the scene."""
    if job.outcome != "done":
        item.message = job.error or job.outcome
        return
    names = photo_names(item.path)
    notes = left_out(job.bundle_dir, names)
    try:
        if output:
            item.bundle = keep_bundle(job.bundle_dir, output, item.path, taken)
    except (OSError, ValueError, NotOurFolder) as exc:  # the bundle is not kept: the item fails
        item.message = str(exc)
        job.discard_bundle()
        return
    try:
        if axes is not None and context is not None:
            coll = build.build_scene(context, job.bundle_dir, source=item.path,
                                     name=os.path.basename(os.path.normpath(item.path)),
                                     job_id=job.job_id, axes=axes, photo_names=names)
            item.collection = coll.name
        item.ok, item.message = True, "; ".join(["ok", *notes])
    except Exception as exc:  # noqa: BLE001 - one bad result must not stop the batch
        item.message = f"import failed: {exc}"
    finally:
        job.discard_bundle()


def run_batch(context: bpy.types.Context | None, inputs: list[str], output: str,
              start_job: StartJob, axes: tuple[str, ...] | None = None,
              log: Callable[[str], None] = print) -> list[BatchItem]:
    """Synchronously reconstruct every input; failures are recorded and the batch goes on."""
    results: list[BatchItem] = []
    taken: set[str] = set()
    for n, path in enumerate(inputs, 1):
        item = BatchItem(path)
        job = start_item(path, start_job)
        if isinstance(job, str):
            item.message = job
        else:
            job.run_sync()
            finish_item(context, item, job, output, axes, taken)
        results.append(item)
        notes = item.message.partition("; ")[2] if item.ok else ""
        log(f"[{n}/{len(inputs)}] {'OK  ' if item.ok else 'FAIL'} {path}: "
            f"{item.bundle or item.message}" + (f" ({notes})" if notes else ""))
    return results
