"""The job queue: one job at a time, queue positions, cancel, forget, expiry, stop.

The queue and cancel tests talk HTTP to the session's real server; expiry and stop use an
in-process JobManager (a real Reconstructor and worker thread) with a tiny time-to-live.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch
from backend_test_support import APPLE, ServerProcess, cutout_png, encode
from PIL import Image

from backend.errors import BackendError
from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor, stage_key
from backend.server.jobs import JobManager

LONG = {"resolution": 256}  # the example photo at 256^3: seconds of work, long enough to watch


def submit_long(server: ServerProcess) -> str:
    return server.submit(APPLE.read_bytes(), **LONG)


def job_folder(server: ServerProcess, job_id: str) -> Path:
    return server.workdir / "jobs" / job_id


# -- over HTTP ---------------------------------------------------------------------------------


def test_second_job_waits_its_turn(server: ServerProcess):
    first = submit_long(server)
    second = server.submit(cutout_png(), resolution=32)
    waiting = server.get(f"/jobs/{second}").json()
    ahead = server.get(f"/jobs/{first}").json()
    assert ahead["state"] in ("queued", "running")  # so `waiting` was read while it was ahead
    assert waiting["state"] == "queued" and waiting["queue_position"] == 1
    assert waiting["progress"] == 0.0
    assert ahead["queue_position"] == 0
    assert server.get("/health").json()["queue"] == 2
    response = server.get(f"/jobs/{second}/result")
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_ready"

    # Watch the first job's progress move through its stages while the second waits.
    seen: list[tuple[str, float]] = []
    while True:
        behind = server.get(f"/jobs/{second}").json()["state"]
        status = server.get(f"/jobs/{first}").json()
        seen.append((stage_key(status["stage"]), status["progress"]))  # words, not keys
        if status["state"] not in ("queued", "running"):
            break
        assert behind == "queued"  # read before `status`: the first was still unfinished then
        time.sleep(0.02)
    assert status["state"] == "done"
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert len({s for s, _ in seen} & {"mask", "sdf", "mesh", "cleanup"}) >= 2
    assert any(0.0 < f < 1.0 for f in fractions)

    assert server.wait(second)["state"] == "done"
    assert server.get("/health").json()["queue"] == 0


def test_cancel_running_and_queued_jobs(server: ServerProcess):
    for _attempt in range(3):  # the long job could, on a fast machine, end before DELETE lands
        running = submit_long(server)
        queued = server.submit(cutout_png(), resolution=32)
        server.wait(running, states=("running", "done"))

        response = server.delete(f"/jobs/{queued}")
        assert response.status_code == 200
        assert response.json() == {"id": queued, "state": "cancelled"}
        assert server.get(f"/jobs/{queued}").json()["state"] == "cancelled"  # at once

        response = server.delete(f"/jobs/{running}")
        assert response.status_code == 200
        if response.json()["state"] == "forgotten":
            continue
        assert response.json() == {"id": running, "state": "cancelled"}
        status = server.wait(running)
        assert status["state"] == "cancelled"
        for job_id in (running, queued):
            response = server.get(f"/jobs/{job_id}/result")
            assert response.status_code == 409
            assert response.json()["error"]["code"] == "not_ready"
            assert not job_folder(server, job_id).exists()
        break
    else:
        pytest.fail("the long job finished before it could be cancelled, three times")
    assert server.get("/health").json()["queue"] == 0
    # The worker survives a cancel: the next job runs.
    assert server.wait(server.submit(cutout_png(), resolution=32))["state"] == "done"


def test_delete_forgets_a_finished_job(server: ServerProcess):
    job_id = server.submit(cutout_png(), resolution=32)
    assert server.wait(job_id)["state"] == "done"
    assert (job_folder(server, job_id) / "mesh.glb").is_file()
    response = server.delete(f"/jobs/{job_id}")
    assert response.status_code == 200 and response.json() == {"id": job_id, "state": "forgotten"}
    assert server.get(f"/jobs/{job_id}").status_code == 404
    assert server.get(f"/jobs/{job_id}/result").status_code == 404
    assert not job_folder(server, job_id).exists()


def test_delete_forgets_a_failed_job(server: ServerProcess):
    """A failed job is forgotten, not 'cancelled' (it was never running when DELETE came)."""
    white = server.submit(encode(Image.new("RGB", (64, 64), "white"), "PNG"), resolution=32)
    assert server.wait(white)["state"] == "failed"
    response = server.delete(f"/jobs/{white}")
    assert response.status_code == 200 and response.json() == {"id": white, "state": "forgotten"}
    assert server.get(f"/jobs/{white}").status_code == 404


# -- in process --------------------------------------------------------------------------------


@pytest.fixture
def manager_factory(tmp_path):
    managers: list[JobManager] = []

    def make(**kwargs) -> JobManager:
        manager = JobManager(Reconstructor(torch.device("cpu")), tmp_path / "work", **kwargs)
        manager.start(warm_up=False)
        managers.append(manager)
        return manager

    yield make
    for manager in managers:
        manager.stop()


def wait_state(manager: JobManager, job_id: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = manager.get(job_id).state
        if state in ("done", "failed", "cancelled"):
            return state
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def quick() -> ReconstructOptions:
    return ReconstructOptions(resolution=32, predictor="baseline")


def test_results_expire(manager_factory):
    manager = manager_factory(ttl_s=0.3)
    old = manager.submit(cutout_png(), quick())
    assert wait_state(manager, old.id) == "done"
    folder = manager.get(old.id).bundle_dir
    assert folder is not None and (folder / "result.json").is_file()
    assert manager.result_zip(old.id)[:2] == b"PK"
    time.sleep(0.5)  # past the time-to-live
    new = manager.submit(cutout_png(), quick())  # any new request sweeps expired results
    with pytest.raises(BackendError) as info:
        manager.get(old.id)
    assert info.value.code == "not_found" and "expired" in info.value.message
    assert not folder.exists()
    assert wait_state(manager, new.id) == "done"  # the fresh one is kept


def test_only_so_many_finished_results_are_kept(manager_factory):
    manager = manager_factory(max_finished=2)
    ids = []
    for _ in range(3):
        job = manager.submit(cutout_png(), quick())
        assert wait_state(manager, job.id) == "done"
        ids.append(job.id)
    manager.submit(cutout_png(), quick())  # sweeps: three finished, two allowed
    with pytest.raises(BackendError):
        manager.get(ids[0])
    assert manager.get(ids[1]).state == "done" and manager.get(ids[2]).state == "done"


def test_bad_image_is_refused_before_queueing(manager_factory):
    manager = manager_factory()
    with pytest.raises(BackendError) as info:
        manager.submit(b"not an image", quick())
    assert info.value.code == "not_an_image"
    assert manager.pending() == 0


def test_failed_job_keeps_the_worker_alive(manager_factory):
    manager = manager_factory()
    white = encode(Image.new("RGB", (64, 64), "white"), "PNG")  # decodes, but shows no object
    failed = manager.submit(white, quick())
    assert wait_state(manager, failed.id) == "failed"
    assert manager.get(failed.id).error["code"] == "no_object"
    ok = manager.submit(cutout_png(), quick())
    assert wait_state(manager, ok.id) == "done"


def test_stop_cancels_the_running_job_and_refuses_new_ones(manager_factory):
    manager = manager_factory()
    job = manager.submit(cutout_png(), ReconstructOptions(resolution=256, predictor="baseline"))
    waiting = manager.submit(cutout_png(), quick())
    deadline = time.monotonic() + 30
    while manager.get(job.id).state == "queued" and time.monotonic() < deadline:
        time.sleep(0.005)
    manager.stop()
    assert manager.get(job.id).state in ("cancelled", "done")
    assert manager.get(waiting.id).state in ("queued", "cancelled")  # dropped, never run
    assert manager.get(waiting.id).bundle_dir is None
    with pytest.raises(BackendError) as info:
        manager.submit(cutout_png(), quick())
    assert info.value.code == "shutting_down" and info.value.http_status == 503
