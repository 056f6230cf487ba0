"""The backend process manager: found again, remote mode, stale state files, crashes, stop.

(test_running_backend_is_found_again_and_stopped and the stale-state test came from the Blender
tests: they never needed Blender.)
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import manager_for

from client.backend_process import BackendManager, Status
from client.http import BackendUnreachable


def pid_alive(pid: int | None) -> bool:
    """Whether the process runs (a zombie, exited but not reaped, does not)."""
    try:
        with open(f"/proc/{pid or 0}/stat") as fh:
            return bool(pid) and fh.read().rpartition(")")[2].split()[:1] != ["Z"]
    except FileNotFoundError:
        return False


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_stale_state(manager: BackendManager, pid: int) -> None:
    token_file, state_file, _ = manager.files()
    if not os.path.exists(token_file):
        with open(token_file, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    port = free_port()
    with open(state_file, "w") as fh:
        json.dump({"url": f"http://127.0.0.1:{port}", "port": port, "pid": pid}, fh)


def test_running_backend_is_found_again_and_stopped(make_config):
    config = make_config()
    first = manager_for(config)
    assert first.wait_ready().state == "ready"
    url, pid = first.client.url, first.pid
    with open(first.files()[0]) as fh:
        token = fh.read().strip()
    # A fresh manager (what a reloaded add-on module starts with) finds the same server.
    again = manager_for(config)
    status = again.ensure_started()
    found = {"state": status.state, "same_pid": again.pid == pid,
             "own_child": again.proc is not None}
    # Remote mode: the same server by URL and token (no process management).
    remote = manager_for(make_config(mode="REMOTE", server_url=url, token=token))
    remote_ok = remote.ensure_started().state
    bad = manager_for(make_config(mode="REMOTE", server_url=url, token="wrong-token"))
    bad_status = bad.ensure_started()
    remote.stop()  # stopping a remote backend only forgets it
    remote_alive = pid_alive(pid)
    again.stop()  # stops a server it did not start itself: /shutdown, then signals
    stopped_by_other = not pid_alive(pid)
    first.release()
    assert found == {"state": "ready", "same_pid": True, "own_child": False}
    assert remote_ok == "ready"
    assert bad_status.state == "error" and "refused the token" in bad_status.message
    assert remote_alive is True
    assert stopped_by_other is True


def test_a_stale_state_file_without_a_pid_check_starts_a_fresh_backend(make_config, monkeypatch):
    """Windows cannot check a pid cheaply: a crashed backend's state file must not keep
    ensure_started() waiting, and stop() must not signal the pid it names (reused by now)."""
    monkeypatch.setattr(BackendManager, "_pid_alive", staticmethod(lambda pid: bool(pid)))
    config = make_config()
    manager = manager_for(config)
    # stop(): the stale pid now belongs to an unrelated process, which must survive.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    write_stale_state(manager, bystander.pid)
    manager_for(config).stop()
    bystander_alive = bystander.poll() is None
    bystander.kill()
    bystander.wait()
    # ensure_started(): the stale pid is gone; a fresh backend must start, not be waited for.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_stale_state(manager, gone.pid)
    manager.ensure_started()
    started_own = manager.proc is not None
    state = manager.wait_ready().state if started_own else manager.status.state
    new_pid = manager.pid
    manager.release()  # what disabling the add-on does
    assert bystander_alive is True
    assert started_own is True
    assert state == "ready" and new_pid != gone.pid
    assert pid_alive(new_pid) is False


def test_a_crash_is_explained_and_forgotten(make_config):
    manager = manager_for(make_config())
    assert manager.wait_ready().state == "ready"
    assert manager.notice_crash() is False and manager.status.state == "ready"
    os.kill(manager.pid, signal.SIGKILL)
    manager.proc.wait()
    message = manager.explain_unreachable(BackendUnreachable("no answer"))
    assert "killed by signal 9" in message
    assert manager.status.state == "error" and manager.proc is None and manager.client is None
    # The next start begins afresh.
    assert manager.wait_ready().state == "ready"
    os.kill(manager.pid, signal.SIGKILL)
    manager.proc.wait()
    assert manager.notice_crash() is True
    assert manager.status.state == "error" and "killed by signal 9" in manager.status.message
    assert manager.proc is None


def test_jobs_mark_the_backend_busy_through_the_manager():
    manager = BackendManager(lambda: None)  # type: ignore[arg-type, return-value]
    manager.status = Status("ready")
    manager.job_submitted()
    assert manager.status.state == "busy"
    manager.job_ended()
    assert manager.status.state == "ready"
    manager.status = Status("error", "gone")
    manager.job_ended()
    assert manager.status.state == "error"


@pytest.mark.parametrize(("changes", "message"), [
    ({"python": ""}, "No backend Python"),
    ({"python": "/nonexistent/python"}, "Backend Python not found"),
    ({"mode": "REMOTE", "server_url": ""}, "Set the server URL"),
    ({"mode": "REMOTE", "server_url": "http://example.com:8765", "online_access": False},
     "Online access is off"),
])
def test_configuration_errors_are_reported(make_config, changes, message):
    status = manager_for(make_config(**changes)).ensure_started()
    assert status.state == "error" and message in status.message


def test_a_backend_that_never_answers_times_out(make_config, tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\nexec sleep 60\n")
    fake.chmod(0o755)
    manager = manager_for(make_config(python=str(fake), startup_timeout_s=0.5))
    start = time.monotonic()
    status = manager.wait_ready(timeout=30)
    assert status.state == "error" and "did not start within" in status.message
    assert time.monotonic() - start < 20
    assert manager.proc is None
