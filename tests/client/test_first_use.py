"""Issues 31 and 32, the client's part: what a new user meets on a first run, with real backend
processes over HTTP on loopback (the model placed where the installed backend reads it, short
messages instead of tracebacks, the 413, stage words and elapsed time, Cancel then the next job).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import EXAMPLE, ROOT, manager_for

from client.env_installer import InstallPlaces, install_commands
from client.remote_job import JobOptions, RemoteJob


def small(**changes) -> JobOptions:
    return JobOptions(**{"resolution": 32, "predictor": "baseline", **changes})


def test_install_places_the_model_where_the_installed_backend_reads(tmp_path, monkeypatch,
                                                                    make_config):
    """The install step used to copy <addon>/.models/u2net/u2netp.onnx, which setup-models no
    longer writes. Now it runs setup-models --dest <user folder>/models/u2net, and a backend the
    add-on starts with that models_dir reports it there, ready."""
    models = tmp_path / "user" / "models" / "u2net"
    places = InstallPlaces(addon_root=str(ROOT), venv_dir=str(tmp_path / "venv"),
                           models_dir=str(models))
    steps = dict(install_commands(sys.executable, False, places))
    argv = steps["Installing the background-removal model"]
    assert argv[1:] == ["-m", "backend", "setup-models", "--dest", str(models)]
    assert not any(".models" in " ".join(a) for a in steps.values())  # no copy of a stale path
    for var in ("U2NET_HOME", "SLICE3D_MODELS_DIR"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # an empty ~/.u2net
    # Run the step as the installer does (the venv's python is this one here).
    out = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert (models / "u2netp.onnx").is_file()
    manager = manager_for(make_config(models_dir=str(models)))
    try:
        status = manager.wait_ready()
        assert status.state == "ready", manager.log_tail()
        assert status.models_dir == str(models)
        assert status.background_removal_ready is True
    finally:
        manager.stop()


def test_a_python_without_the_packages_gets_a_short_message(tmp_path, make_config):
    """`ModuleNotFoundError: No module named 'uvicorn'` and its traceback stayed on the panel."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True, timeout=120)
    bare = tmp_path / "bare" / "bin" / "python"
    manager = manager_for(make_config(python=str(bare)))
    try:
        status = manager.wait_ready(timeout=120)
    finally:
        manager.stop()
    assert status.state == "error"
    assert status.message.startswith("This Python lacks the backend's packages (")
    assert "install requirements/backend.txt or use Installed Environment" in status.message
    assert "Traceback" not in status.message and "File \"" not in status.message


def test_installed_environment_missing_says_what_to_press(tmp_path, make_config):
    missing = str(tmp_path / "venv" / "bin" / "python")
    for online in (True, False):
        manager = manager_for(make_config(python=missing, installed=True, online_access=online))
        status = manager.ensure_started()
        assert status.state == "error"
        assert "press Install Backend Environment" in status.message
        assert ("allow online access" in status.message) is (not online)


def test_an_over_limit_upload_gets_the_413_message(tmp_path, make_config):
    """The server sent its 413 while the client was still sending: "No answer from the backend".
    """
    manager = manager_for(make_config(max_upload_mb=1))
    try:
        assert manager.wait_ready().state == "ready", manager.log_tail()
        big = EXAMPLE.read_bytes() + os.urandom(3 * 1024 * 1024)
        job = RemoteJob(big, "big.jpg", small(), manager, str(tmp_path / "results"))
        job.run_sync(poll_s=0.05)
    finally:
        manager.stop()
    assert job.outcome == "failed"
    assert job.error == "The image is larger than the backend accepts (1 MB)", job.error


def test_progress_reads_the_backends_stage_words_and_elapsed_time(backend, tmp_path):
    job = RemoteJob(EXAMPLE.read_bytes(), "apple.jpg", small(resolution=64), backend,
                    str(tmp_path))
    seen: list[str] = []
    while not job.finished:
        job.step()
        if job.phase == "poll" and job.stage not in seen:
            seen.append(job.stage)
        time.sleep(0.02)
    assert job.outcome == "done", job.error
    words = [s for s in seen if not s.startswith(("Queued", "Starting"))]
    assert words, seen
    for stage in words:  # the backend's words as they are (docs/API.md, Progress)
        assert stage[0].isupper() and stage.lower() not in (
            "decode", "mask", "frame", "predict", "sdf", "mesh", "cleanup", "bundle"), seen
    assert any(s.startswith("Computing the shape (level") for s in seen) or len(words) >= 1
    text = job.progress_text()
    assert text.startswith("Done (") and text.endswith(" s)")
    assert job.elapsed_s > 0


def test_after_cancel_the_next_job_runs_at_once(backend, tmp_path):
    """Cancel a long job while it runs, then start the next: the backend stopped the first
    (cancelled, never done) and the next one runs to its bundle."""
    first = RemoteJob(EXAMPLE.read_bytes(), "apple.jpg", small(resolution=256), backend,
                      str(tmp_path))
    deadline = time.monotonic() + 120
    while not (first.phase == "poll" and first.progress > 0) and not first.finished:
        first.step()
        time.sleep(0.05)
        assert time.monotonic() < deadline
    first_id = first.job_id
    first.cancel()
    second = RemoteJob(EXAMPLE.read_bytes(), "apple.jpg", small(), backend, str(tmp_path))
    second.run_sync(poll_s=0.05)
    assert second.outcome == "done", second.error
    assert backend.client is not None
    assert backend.client.status(first_id)["state"] == "cancelled"
    second.discard_bundle()


def test_photos_over_the_limit_together_are_named_as_such(tmp_path, make_config):
    """Issue 35: the upload limit holds for the whole body, so for all the photos together."""
    manager = manager_for(make_config(max_upload_mb=1))
    try:
        assert manager.wait_ready().state == "ready", manager.log_tail()
        half = EXAMPLE.read_bytes() + os.urandom(600 * 1024)
        job = RemoteJob(half, "a.jpg", small(), manager, str(tmp_path / "results"),
                        more_images=[half])
        job.run_sync(poll_s=0.05)
    finally:
        manager.stop()
    assert job.outcome == "failed"
    assert job.error == "The photos together are larger than the backend accepts (1 MB)", \
        job.error
