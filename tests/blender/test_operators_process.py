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
