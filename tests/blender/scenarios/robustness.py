"""Scenario: cancel mid-job, kill the backend mid-job, then reconstruct again.

A helper thread plays the user (Cancel button) or the crash (SIGKILL) while the operator waits
synchronously, as it does under `blender -b`.
"""

import os
import signal
import threading
import time

import bpy
from _support import EXAMPLE, PREDICTOR, disable, done, enable, pid_alive, run

TRACKED = ("objects", "meshes", "materials", "images", "cameras", "collections")


def snapshot() -> dict:
    return {name: sorted(i.name for i in getattr(bpy.data, name)) for name in TRACKED}


def when_running(ext, action) -> threading.Thread:
    """Call action(job) once the current job is running on the backend."""
    ui = ext.ui.state.UI

    def watch() -> None:
        deadline = time.time() + 120
        while time.time() < deadline:
            job = ui.job
            if job is not None and job.phase == "poll" and job.stage not in ("Queued", ""):
                action(job)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def reconstruct() -> tuple[list[str], str]:
    try:
        return sorted(bpy.ops.slice3d.reconstruct()), ""
    except RuntimeError as exc:
        return ["ERROR"], str(exc)


def main() -> None:
    ext = enable()
    manager, ui = ext.ui.state.MANAGER, ext.ui.state.UI
    opts = bpy.context.scene.slice3d
    opts.image = bpy.data.images.load(EXAMPLE)
    opts.resolution = "256"
    out: dict = {"poll_cancel_idle": bpy.ops.slice3d.cancel.poll()}

    # 1. Cancel while the backend works: nothing is added, the backend job is cancelled.
    before = snapshot()
    thread = when_running(ext, lambda job: job.cancel())
    out["cancel_outcome"], out["cancel_error"] = reconstruct()
    thread.join(5)
    out["cancel_job_outcome"] = ui.job.outcome
    out["cancel_unchanged"] = snapshot() == before
    deadline = time.time() + 30  # the backend honours a cancel between stages / grid chunks
    while time.time() < deadline:
        try:
            out["cancel_backend_state"] = manager.client.status(ui.job.job_id)["state"]
        except ext.client.http.ClientError as exc:
            out["cancel_backend_state"] = f"{exc.status}"
        if out["cancel_backend_state"] not in ("queued", "running"):
            break
        time.sleep(0.05)

    # 2. The Cancel operator on a job driven step by step (what the modal timer does).
    job = ext.ui.state.start_job(ext.scene.image_source.file_bytes(EXAMPLE), "apple.jpg",
                                 ext.client.remote_job.JobOptions(resolution=256,
                                                                  predictor=PREDICTOR))
    ui.job = job
    while job.phase != "poll" or job.stage in ("Queued", ""):
        job.step()
        time.sleep(0.02)
    out["poll_cancel_running"] = bpy.ops.slice3d.cancel.poll()
    out["poll_reconstruct_running"] = bpy.ops.slice3d.reconstruct.poll()
    out["cancel_op"] = sorted(bpy.ops.slice3d.cancel())
    out["op_job_outcome"] = job.outcome
    out["op_unchanged"] = snapshot() == before

    # 3. Kill the backend mid-job: a clear error, nothing added, and the next run works.
    first_pid = manager.pid
    thread = when_running(ext, lambda job: os.kill(manager.pid, signal.SIGKILL))
    out["kill_outcome"], out["kill_error"] = reconstruct()
    thread.join(5)
    out["kill_unchanged"] = snapshot() == before
    out["status_after_kill"] = [manager.status.state, manager.status.message]
    opts.resolution = "64"
    out["next_outcome"], out["next_error"] = reconstruct()
    out["pids"] = [first_pid, manager.pid]
    out["collections"] = sorted(c.name for c in bpy.data.collections
                                if c.name.startswith("Slice3D"))
    pid = manager.pid
    disable()
    out["backend_alive_after"] = pid_alive(pid)
    done(**out)


run(main)
