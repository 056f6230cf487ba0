"""The backend process: found again after a crash of Blender, remote mode, stopped at exit."""

from __future__ import annotations

import os
import signal
import time

from bl_harness import run_blender


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[:1] != ["Z"]


def test_backend_dies_with_a_vanished_blender(profile):
    """Blender killed without cleanup: the kernel's parent-death signal stops the backend."""
    orphan = run_blender(profile, "process_orphan")
    assert orphan["outcome"] == ["FINISHED"]
    pid = orphan["pid"]
    try:
        deadline = time.time() + 20
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_running_backend_is_found_again_and_stopped(profile):
    found = run_blender(profile, "process_find")
    assert found["found"] == {"state": "ready", "same_pid": True, "own_child": False}
    assert found["remote"] == "ready"
    assert found["bad"][0] == "error" and "refused the token" in found["bad"][1]
    assert found["remote_alive_after_stop"] is True
    assert found["stopped_by_other"] is True


def test_backend_stops_when_the_interpreter_exits(profile):
    result = run_blender(profile, "process_atexit", expect_rc=None, allow_hang=True, timeout=90)
    assert result["outcome"] == ["FINISHED"]
    assert not _alive(result["pid"])


def test_a_stale_state_file_without_a_pid_check_starts_a_fresh_backend(profile):
    """Windows cannot check a pid cheaply: a crashed backend's state file must not keep
    ensure_started() waiting, and stop() must not signal the pid it names (reused by now)."""
    result = run_blender(profile, "process_stale")
    assert result["bystander_alive"] is True
    assert result["started_own"] is True
    assert result["state"] == "ready" and result["new_pid"] != result["dead_pid"]
    assert result["alive_after_disable"] is False


def test_quitting_leaves_a_backend_another_blender_started(profile):
    result = run_blender(profile, "process_shared")
    assert result["other_state"] == "ready"
    assert result["found"] == ["ready", True, True]
    assert result["alive_after_disable"] is True and result["answers"] == "ready"
    assert result["stopped_by_owner"] is True
