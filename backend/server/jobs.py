"""The job queue: one reconstruction at a time on the device, others wait; results expire."""

from __future__ import annotations

import itertools
import logging
import queue
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ..bundle import zip_bundle
from ..errors import BackendError, Cancelled
from ..intake import load_image
from ..multiview.request import ViewRequest
from ..options import ReconstructOptions
from ..pipeline import Reconstructor

log = logging.getLogger("slice3d.jobs")
FINISHED = ("done", "failed", "cancelled")


@dataclass
class Job:
    id: str
    options: ReconstructOptions
    image: bytes | ViewRequest | None  # one image, or several photos of one object
    seq: int
    state: str = "queued"
    stage: str = "queued"
    progress: float = 0.0
    error: dict | None = None
    timings_s: dict = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    finished: float | None = None
    bundle_dir: Path | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def finish(self, state: str, error: dict | None = None) -> None:
        self.state, self.error, self.finished = state, error, time.time()
        self.image = None


class JobManager:
    """Owns the jobs, the worker thread and the result folders under work_dir."""

    def __init__(
        self, reconstructor: Reconstructor, work_dir: Path, ttl_s: float = 3600.0,
        max_finished: int = 64,
    ) -> None:
        self.reconstructor = reconstructor
        self.work_dir = Path(work_dir)
        self.ttl_s = ttl_s
        self.max_finished = max_finished
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._seq = itertools.count()
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="slice3d-worker", daemon=True)

    def start(self, warm_up: bool = True) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._warm_up = warm_up
        self._worker.start()

    def begin_stop(self) -> None:
        """Refuse new jobs and cancel every job now; the worker stops within about a second."""
        self._stopping.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel_event.set()
            if job.state == "queued":
                job.finish("cancelled")
        self._queue.put(None)

    def stop(self, timeout: float = 30.0) -> bool:
        """Cancel what runs, drop what waits, wait for the worker; True once it has ended."""
        self.begin_stop()
        if self._worker.is_alive():
            self._worker.join(timeout)
        return not self._worker.is_alive()

    def worker_alive(self) -> bool:
        return self._worker.is_alive()

    def remove_all_files(self) -> None:
        """Remove every job's folder (and staging leftovers) from work_dir: at shutdown, so a
        --work-dir does not fill up with finished results nobody can ask for any more."""
        with self._lock:
            ids = set(self._jobs)
        for job_id in ids:
            shutil.rmtree(self.work_dir / job_id, ignore_errors=True)
        try:
            entries = list(self.work_dir.iterdir())
        except OSError:
            return
        for entry in entries:  # .<id>.new-*, .<id>.old-*: a write cut short
            if entry.name.startswith(".") and entry.name[1:].split(".", 1)[0] in ids:
                shutil.rmtree(entry, ignore_errors=True)

    # -- requests ---------------------------------------------------------------------------

    def submit(self, image: bytes | ViewRequest, options: ReconstructOptions) -> Job:
        """Check the image (every photo) decodes (a bad one is the caller's 4xx now), then
        queue it."""
        if self._stopping.is_set():
            raise BackendError("shutting_down", "The backend is shutting down.")
        if isinstance(image, ViewRequest):
            for k, data in enumerate(image.images):
                try:
                    load_image(data)
                except BackendError as exc:
                    raise BackendError(exc.code, f"Photo {k + 1}: {exc.message}") from None
        else:
            load_image(image)
        job = Job(id=uuid.uuid4().hex, options=options, image=image, seq=next(self._seq))
        with self._lock:
            self._jobs[job.id] = job
        self._queue.put(job.id)
        self._expire()
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise BackendError("not_found", f"No job with id {job_id!r} (it may have expired).")
        return job

    def queue_position(self, job: Job) -> int:
        """How many jobs run or wait ahead of this one (0 = running now or finished)."""
        if job.state != "queued":
            return 0
        with self._lock:
            return sum(1 for j in self._jobs.values()
                       if j.seq < job.seq and j.state in ("queued", "running"))

    def cancel(self, job_id: str) -> Job:
        """Cancel a queued or running job; forget a finished one and its files."""
        job = self.get(job_id)
        job.cancel_event.set()
        if job.state == "queued":
            job.finish("cancelled")
        elif job.state in FINISHED:
            self._forget(job)
        return job

    def result_zip(self, job_id: str) -> bytes:
        job = self.get(job_id)
        if job.state != "done" or job.bundle_dir is None:
            raise BackendError("not_ready", f"Job {job_id} is {job.state}; no result yet.")
        return zip_bundle(job.bundle_dir)

    def pending(self) -> int:
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.state in ("queued", "running"))

    # -- worker -----------------------------------------------------------------------------

    def _work(self) -> None:
        if self._warm_up:
            self._warm()
        while not self._stopping.is_set():
            try:
                job_id = self._queue.get(timeout=60.0)
            except queue.Empty:
                self._expire()
                continue
            if job_id is None:
                break
            job = self._jobs.get(job_id)
            if job is None or job.state != "queued":
                continue
            self._run(job)

    def _warm(self) -> None:
        """Load the default predictor and the background remover before the first job."""
        try:
            self.reconstructor.predictor("auto")
            from ..foreground import _rembg_session

            _rembg_session(self.reconstructor.device.type)
        except Exception as exc:  # warm-up is an optimisation; the job reports real errors
            log.warning("warm-up incomplete: %s", exc)

    def _run(self, job: Job) -> None:
        job.state, job.stage = "running", "Starting"
        out_dir = self.work_dir / job.id

        def progress(stage: str, fraction: float) -> None:
            job.stage, job.progress = stage, round(min(max(fraction, 0.0), 1.0), 4)

        try:
            result = self.reconstructor.run(
                job.image or b"", job.options, out_dir, progress, job.cancel_event.is_set
            )
        except Cancelled:
            job.finish("cancelled")
        except BackendError as exc:
            job.finish("failed", {"code": exc.code, "message": exc.message})
        except Exception as exc:  # never let one bad job take the worker down
            log.exception("job %s failed", job.id)
            job.finish("failed", {"code": "internal",
                                  "message": f"Reconstruction failed unexpectedly ({exc})."})
        else:
            job.timings_s = result["timings_s"]
            job.bundle_dir = out_dir
            job.progress, job.stage = 1.0, "done"
            job.finish("done")
            if job.cancel_event.is_set():  # cancelled after the last check: honour it
                job.state = "cancelled"
                self._remove_files(job)

    # -- housekeeping -----------------------------------------------------------------------

    def _expire(self) -> None:
        now = time.time()
        with self._lock:
            finished = sorted((j for j in self._jobs.values() if j.state in FINISHED),
                              key=lambda j: j.finished or 0)
        overflow = max(0, len(finished) - self.max_finished)
        for i, job in enumerate(finished):
            if i < overflow or now - (job.finished or now) > self.ttl_s:
                self._forget(job)

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)
        self._remove_files(job)

    def _remove_files(self, job: Job) -> None:
        if job.bundle_dir is not None:
            shutil.rmtree(job.bundle_dir, ignore_errors=True)
            job.bundle_dir = None
