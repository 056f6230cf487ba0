"""One reconstruction job as a small state machine that never blocks for long.

The modal operator calls `step()` from a timer; the headless path calls `run_sync()`. Both end in
`finished` with `outcome` done | failed | cancelled and, when done, `bundle_dir` holding the
unzipped result bundle. The scene is built by the caller, so a failed or cancelled job adds nothing.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

from . import paths
from .client import BackendError, BackendUnreachable
from .process import MANAGER


@dataclass
class JobOptions:
    """Options sent to POST /jobs (docs/API.md)."""

    resolution: int = 128
    face_budget: int = 200000
    background: str = "auto"
    predictor: str = "auto"
    flip_average: str = "auto"
    silhouette_fill: str = "auto"

    def query(self, name: str) -> dict[str, Any]:
        return {"resolution": self.resolution, "face_budget": self.face_budget,
                "background": self.background.lower(), "predictor": self.predictor.lower(),
                "flip_average": self.flip_average.lower(),
                "silhouette_fill": self.silhouette_fill.lower(), "name": name[:200]}


@dataclass
class Job:
    """Send one image, follow it, fetch its bundle."""

    image: bytes = field(repr=False)
    name: str  # shown in names and stored as slice3d_source
    options: JobOptions = field(default_factory=JobOptions)
    phase: str = "backend"  # backend | submit | poll | download | finished
    stage: str = "Starting the backend"
    progress: float = 0.0
    outcome: str = ""  # done | failed | cancelled
    error: str = ""
    job_id: str = ""
    bundle_dir: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _cancel_requested: bool = False

    @property
    def finished(self) -> bool:
        return self.phase == "finished"

    def cancel(self) -> None:
        """Ask the backend to stop; the next step() ends the job as cancelled."""
        self._cancel_requested = True
        if self.job_id and MANAGER.client is not None and not self.finished:
            with contextlib.suppress(BackendError):
                MANAGER.client.cancel(self.job_id)
        if self.phase != "finished":
            self._end("cancelled", "")

    def step(self) -> None:
        """Advance by at most one short HTTP call."""
        if self.finished:
            return
        if self._cancel_requested:
            self._end("cancelled", "")
            return
        try:
            getattr(self, "_step_" + self.phase)()
        except BackendUnreachable as exc:
            self._end("failed", MANAGER.explain_unreachable(exc))
        except BackendError as exc:
            self._end("failed", str(exc))
        except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
            self._end("failed", f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - a modal timer must never die half-way
            self._end("failed", f"Internal error ({type(exc).__name__}: {exc})")

    def run_sync(self, poll_s: float = 0.25) -> None:
        """Step until finished (headless). Ctrl+C cancels the job on the backend."""
        try:
            while not self.finished:
                self.step()
                if self.phase in ("backend", "poll"):
                    time.sleep(poll_s)
        except KeyboardInterrupt:
            self.cancel()
            raise

    # ----- phases ------------------------------------------------------------------------------
    def _step_backend(self) -> None:
        status = MANAGER.ensure_started()
        if status.state == "error":
            self._end("failed", status.message)
        elif status.state in ("ready", "busy") and MANAGER.client is not None:
            self.phase, self.stage = "submit", "Sending the image"

    def _step_submit(self) -> None:
        assert MANAGER.client is not None
        self.job_id = MANAGER.client.submit(self.image, **self.options.query(self.name))
        self.phase, self.stage = "poll", "Queued"
        MANAGER.status.state = "busy"

    def _step_poll(self) -> None:
        assert MANAGER.client is not None
        info = MANAGER.client.status(self.job_id)
        state = info.get("state", "")
        self.progress = float(info.get("progress") or 0.0)
        stage = info.get("stage") or state
        if state == "queued" and info.get("queue_position"):
            stage = f"Queued (position {info['queue_position']})"
        self.stage = str(stage).replace("_", " ").capitalize()
        self.timings = dict(info.get("timings_s") or {})
        if state == "done":
            self.phase, self.stage = "download", "Downloading the result"
        elif state == "failed":
            err = info.get("error") or {}
            self._end("failed", err.get("message", "The backend could not reconstruct the image")
                      if isinstance(err, dict) else str(err))
        elif state == "cancelled":
            self._end("cancelled", "")

    def _step_download(self) -> None:
        assert MANAGER.client is not None
        data = MANAGER.client.result(self.job_id)
        folder = os.path.join(paths.user_dir("results"), f"{self.job_id}-{uuid.uuid4().hex[:6]}")
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            _safe_extract(zf, folder)
        self.bundle_dir = folder
        with contextlib.suppress(BackendError):  # the backend may forget the job now
            MANAGER.client.cancel(self.job_id)
        self.progress = 1.0
        self._end("done", "")

    def _end(self, outcome: str, error: str) -> None:
        self.phase, self.outcome, self.error = "finished", outcome, error
        self.stage = {"done": "Done", "cancelled": "Cancelled"}.get(outcome, "Failed")
        if MANAGER.status.state == "busy":
            MANAGER.status.state = "ready"

    def discard_bundle(self) -> None:
        """Remove the downloaded bundle folder (after its images were packed into the file)."""
        if self.bundle_dir and os.path.isdir(self.bundle_dir):
            shutil.rmtree(self.bundle_dir, ignore_errors=True)


def _safe_extract(zf: zipfile.ZipFile, folder: str) -> None:
    """Extract without letting a member escape the folder."""
    root = os.path.realpath(folder)
    for member in zf.namelist():
        target = os.path.realpath(os.path.join(root, member))
        if not target.startswith(root + os.sep) and target != root:
            raise ValueError(f"Unsafe path in result bundle: {member}")
    zf.extractall(root)


@dataclass
class UiState:
    """What the sidebar shows about the current and the last job."""

    job: Job | None = None
    last_timings: dict[str, float] = field(default_factory=dict)
    last_message: str = ""
    last_collection: str = ""


UI = UiState()
