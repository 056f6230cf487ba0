"""Reconstruct many image files: read each, run its job, keep its bundle, import its scene.

The headless batch (scripts/batch.py) runs `run_batch`; the Batch Folder operator drives the same
`start_item` and `finish_item` from its timer. Jobs come from the caller's `start_job`, so this
module knows neither the session state nor the operators.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import bpy

from ..client.batch import BatchItem, keep_bundle
from ..client.bundle_safety import NotOurFolder
from ..client.remote_job import RemoteJob
from . import build, image_source

StartJob = Callable[[bytes, str], RemoteJob]  # (image bytes, name) -> a new job


def start_item(path: str, start_job: StartJob) -> RemoteJob | str:
    """A job for one file, or an error message if the file cannot be read."""
    try:
        data = image_source.file_bytes(path)
    except (OSError, RuntimeError, ValueError) as exc:  # RuntimeError: Blender could not load it
        return f"cannot read: {getattr(exc, 'strerror', None) or exc}"
    return start_job(data, os.path.basename(path))


def finish_item(context: bpy.types.Context | None, item: BatchItem, job: RemoteJob, output: str,
                axes: tuple[str, ...] | None, taken: set[str]) -> None:
    """Keep the bundle under `output` and, when `axes` is given, import it into the scene."""
    if job.outcome != "done":
        item.message = job.error or job.outcome
        return
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
                                     name=os.path.basename(item.path), job_id=job.job_id,
                                     axes=axes)
            item.collection = coll.name
        item.ok, item.message = True, "ok"
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
        log(f"[{n}/{len(inputs)}] {'OK  ' if item.ok else 'FAIL'} {path}: "
            f"{item.bundle or item.message}")
    return results
