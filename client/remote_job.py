"""One reconstruction job on the backend, as a small state machine that never blocks for long.

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

from . import contract
from .backend_process import BackendManager
from .bundle_safety import write_marker
from .http import BackendUnreachable, Client, ClientError
from .safe_unzip import safe_extract, zip_bundle_root
from .views import Poses, check_views


@dataclass
class JobOptions:
    """Options sent to POST /jobs (docs/API.md); the defaults are the contract's."""

    resolution: int = contract.RESOLUTION.default
    face_budget: int = contract.FACE_BUDGET.default
    background: str = contract.BACKGROUND.default
    predictor: str = contract.PREDICTOR.default
    flip_average: str = contract.FLIP_AVERAGE.default
    silhouette_fill: str = contract.SILHOUETTE_FILL.default
    texture_size: int = contract.TEXTURE_SIZE.default
    vertex_colors: bool = contract.VERTEX_COLORS.default

    def query(self, name: str) -> dict[str, Any]:
        return {"resolution": self.resolution, "face_budget": self.face_budget,
                "background": self.background.lower(), "predictor": self.predictor.lower(),
                "flip_average": self.flip_average.lower(),
                "silhouette_fill": self.silhouette_fill.lower(),
                "texture_size": self.texture_size,
                "vertex_colors": "true" if self.vertex_colors else "false",
                "name": name[:contract.MAX_NAME_LENGTH]}


@dataclass
class RemoteJob:
    """Send one image (or several photos of one object), follow the job, fetch its bundle into
    a new folder under `results_dir`. `more_images` are photos 2, 3, ... of the object, sent in
    the same request as `image` with their `poses` (client/views.py)."""

    image: bytes = field(repr=False)
    name: str  # shown in names and stored as slice3d_source
    options: JobOptions
    manager: BackendManager = field(repr=False)
    results_dir: str  # where the downloaded bundle is unzipped (a folder per job)
    phase: str = "backend"  # backend | submit | poll | download | finished
    stage: str = "Starting the backend"
    progress: float = 0.0
    outcome: str = ""  # done | failed | cancelled
    error: str = ""
    job_id: str = ""
    bundle_dir: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    ended: float = 0.0
    cancel_requested: bool = False
    more_images: list[bytes] = field(default_factory=list, repr=False)
    poses: Poses = field(default_factory=Poses)

    def __post_init__(self) -> None:
        if self.more_images:
            check_views(1 + len(self.more_images), self.poses)  # ViewsError before any upload

    @property
    def photo_count(self) -> int:
        return 1 + len(self.more_images)

    @property
    def finished(self) -> bool:
        return self.phase == "finished"

    @property
    def elapsed_s(self) -> float:
        """Seconds since the job was started (frozen once it has ended)."""
        return (self.ended or time.monotonic()) - self.started

    def progress_text(self) -> str:
        """What the panel's bar reads: the backend's stage words and the elapsed time."""
        return f"{self.stage} ({format_elapsed(self.elapsed_s)})"

    @property
    def _client(self) -> Client:
        client = self.manager.client
        if client is None:
            raise BackendUnreachable("The backend is not connected")
        return client

    def cancel(self) -> None:
        """Ask the backend to stop; the job ends as cancelled at once."""
        self.cancel_requested = True
        if self.job_id and self.manager.client is not None and not self.finished:
            with contextlib.suppress(ClientError):
                self.manager.client.cancel(self.job_id)
        if self.phase != "finished":
            self._end("cancelled", "")

    def step(self) -> None:
        """Advance by at most one short HTTP call."""
        if self.finished:
            return
        if self.cancel_requested:
            self._end("cancelled", "")
            return
        try:
            getattr(self, "_step_" + self.phase)()
        except BackendUnreachable as exc:
            self._end("failed", self.manager.explain_unreachable(exc))
        except ClientError as exc:
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
        status = self.manager.ensure_started()
        if status.state == "error":
            self._end("failed", status.message)
        elif status.state in ("ready", "busy") and self.manager.client is not None:
            self.phase, self.stage = "submit", ("Sending the photos" if self.more_images
                                                else "Sending the image")

    def _step_submit(self) -> None:
        query = self.options.query(self.name)
        if self.more_images:
            self.job_id = self._client.submit_views(
                [self.image, *self.more_images], self.poses.azimuths, self.poses.elevations,
                **query)
        else:
            self.job_id = self._client.submit(self.image, **query)
        self.phase, self.stage = "poll", "Queued"
        self.manager.job_submitted()

    def _step_poll(self) -> None:
        info = self._client.status(self.job_id)
        state = info.get("state", "")
        self.progress = float(info.get("progress") or 0.0)
        self.stage = _stage_text(info)
        self.timings = dict(info.get("timings_s") or {})
        if state == "done":
            self.phase, self.stage = "download", "Downloading the result"
        elif state == "failed":
            self._end("failed", _failure_message(info.get("error")))
        elif state == "cancelled":
            self._end("cancelled", "")

    def _step_download(self) -> None:
        data = self._client.result(self.job_id)
        folder = os.path.join(self.results_dir, f"{self.job_id}-{uuid.uuid4().hex[:6]}")
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            safe_extract(zf, folder)
        write_marker(zip_bundle_root(folder))  # ours: a later run may replace a kept copy
        self.bundle_dir = folder
        with contextlib.suppress(ClientError):  # the backend may forget the job now
            self._client.cancel(self.job_id)
        self.progress = 1.0
        self._end("done", "")

    def _end(self, outcome: str, error: str) -> None:
        self.phase, self.outcome, self.error = "finished", outcome, error
        self.ended = time.monotonic()
        self.stage = {"done": "Done", "cancelled": "Cancelled"}.get(outcome, "Failed")
        self.manager.job_ended()

    def discard_bundle(self) -> None:
        """Remove the downloaded bundle folder (after its images were packed into the file)."""
        if self.bundle_dir and os.path.isdir(self.bundle_dir):
            shutil.rmtree(self.bundle_dir, ignore_errors=True)


def _stage_text(info: dict[str, Any]) -> str:
    """The stage as the panel shows it: the backend's words as they are ("Computing the shape
    (level 2 of 4)", docs/API.md), "Queued (position 2)" while queued."""
    state = str(info.get("state", ""))
    stage = str(info.get("stage") or state)
    if state == "queued":
        position = info.get("queue_position")
        return f"Queued (position {position})" if position else "Queued"
    return stage[:1].upper() + stage[1:]


def format_elapsed(seconds: float) -> str:
    """12 s, 3 min 05 s."""
    whole = int(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60} min {whole % 60:02d} s"


def _failure_message(err: Any) -> str:
    if isinstance(err, dict):
        return str(err.get("message", "The backend could not reconstruct the image"))
    return str(err)
