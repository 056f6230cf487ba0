"""RemoteJob: the state machine that follows one job on a real backend."""

from __future__ import annotations

import json
import os
import time

import pytest
from conftest import EXAMPLE

from client import contract
from client.remote_job import JobOptions, RemoteJob
from client.views import Poses, ViewsError


def small(**changes) -> JobOptions:
    return JobOptions(**{"resolution": 32, "predictor": "baseline", **changes})


def test_options_default_to_the_contract():
    options = JobOptions()
    query = options.query("x" * 500)
    for name in ("resolution", "face_budget", "background", "predictor", "flip_average",
                 "silhouette_fill"):
        assert query[name] == contract.DEFAULTS[name]
    assert query["resolution"] == 256
    assert len(query["name"]) == contract.MAX_NAME_LENGTH


def test_query_sends_lower_case_choices():
    query = JobOptions(background="ALPHA", flip_average="Off").query("apple")
    assert query["background"] == "alpha" and query["flip_average"] == "off"


def test_a_job_runs_to_its_bundle(backend, tmp_path):
    job = RemoteJob(EXAMPLE.read_bytes(), "apple.jpg", small(), backend, str(tmp_path))
    job.run_sync(poll_s=0.05)
    assert job.finished and job.outcome == "done", job.error
    assert job.stage == "Done" and job.progress == 1.0
    assert job.timings
    with open(os.path.join(job.bundle_dir, "result.json")) as fh:
        result = json.load(fh)
    assert result["source"] == "apple.jpg" and result["options"]["resolution"] == 32
    assert backend.status.state == "ready"  # busy while it ran, ready again
    job.discard_bundle()
    assert not os.path.exists(job.bundle_dir)


def test_a_bad_image_fails_with_the_backends_message(backend, tmp_path):
    job = RemoteJob(b"not an image", "junk", small(), backend, str(tmp_path))
    job.run_sync(poll_s=0.05)
    assert job.outcome == "failed" and job.error and job.stage == "Failed"
    assert not job.bundle_dir


def test_cancel_while_it_runs(backend, tmp_path):
    job = RemoteJob(EXAMPLE.read_bytes(), "apple.jpg", small(resolution=256), backend,
                    str(tmp_path))
    deadline = time.monotonic() + 60
    while job.phase != "poll" and not job.finished:
        job.step()
        assert time.monotonic() < deadline
    assert backend.status.state == "busy"
    job.cancel()
    assert job.finished and job.outcome == "cancelled" and job.stage == "Cancelled"
    job.step()  # nothing more happens
    assert job.outcome == "cancelled"
    assert backend.status.state == "ready"
    assert os.listdir(tmp_path) == []


def test_several_photos_run_to_one_bundle(backend, tmp_path):
    photo = EXAMPLE.read_bytes()
    job = RemoteJob(photo, "apple.jpg", small(), backend, str(tmp_path), more_images=[photo],
                    poses=Poses((0.0, 90.0), (10.0, 10.0)))
    assert job.photo_count == 2
    job.run_sync(poll_s=0.05)
    assert job.outcome == "done", job.error
    with open(os.path.join(job.bundle_dir, "result.json")) as fh:
        views = json.load(fh)["views"]
    assert [v["azimuth"] for v in views] == [0, 90] and all(v["used"] for v in views)
    assert os.path.isfile(os.path.join(job.bundle_dir, "views", "1.png"))
    job.discard_bundle()


def test_a_set_the_backend_would_refuse_is_refused_before_upload(backend, tmp_path):
    photo = EXAMPLE.read_bytes()
    with pytest.raises(ViewsError, match="At most 6 photos"):
        RemoteJob(photo, "apple.jpg", small(), backend, str(tmp_path), more_images=[photo] * 6)
    with pytest.raises(ViewsError, match="azimuth must be 0"):
        RemoteJob(photo, "apple.jpg", small(), backend, str(tmp_path), more_images=[photo],
                  poses=Poses((45.0, 90.0)))


def test_cancel_a_job_of_several_photos(backend, tmp_path):
    photo = EXAMPLE.read_bytes()
    job = RemoteJob(photo, "apple.jpg", small(resolution=256), backend, str(tmp_path),
                    more_images=[photo, photo], poses=Poses((0.0, 90.0, 180.0)))
    deadline = time.monotonic() + 60
    while job.phase != "poll" and not job.finished:
        job.step()
        assert time.monotonic() < deadline
    job.cancel()
    assert job.outcome == "cancelled" and backend.status.state == "ready"
    assert os.listdir(tmp_path) == []
