"""The backend process and Blender: it dies with a vanished Blender, stops at exit, and one that
another Blender started survives this one (the manager alone: tests/client)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from bl_harness import run_blender


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rpartition(")")[2].split()[:1] != ["Z"]


def _what_it_is_doing(pid: int, state_dir: Path) -> str:
    """For a backend that outlived its Blender: its state, its threads and the end of its log."""
    proc = Path(f"/proc/{pid}")
    status = [ln for ln in (proc / "status").read_text().splitlines()
              if ln.startswith(("State", "PPid", "SigCgt", "SigBlk", "SigPnd", "ShdPnd"))]
    threads = sorted((t / "comm").read_text().strip() + " " + (t / "wchan").read_text()
                     for t in (proc / "task").iterdir())
    log = state_dir / "backend.log"
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
    return (f"backend {pid} outlived Blender by 20 s\n" + "\n".join(status) + "\nthreads:\n"
            + "\n".join(threads) + f"\n{log} ends:\n{tail}")


def test_backend_dies_with_a_vanished_blender(profile):
    """Blender killed without cleanup: the kernel's parent-death signal stops the backend."""
    orphan = run_blender(profile, "process_orphan")
    assert orphan["outcome"] == ["FINISHED"]
    pid = orphan["pid"]
    try:
        deadline = time.time() + 20
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), _what_it_is_doing(pid, Path(orphan["token_file"]).parent)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_backend_stops_when_the_interpreter_exits(profile):
    result = run_blender(profile, "process_atexit", expect_rc=None, allow_hang=True, timeout=90)
    assert result["outcome"] == ["FINISHED"]
    pid = result["pid"]
    try:
        # The atexit handler waits for the backend, so after a normal exit it is gone at once.
        # Where bpy hung in its exit handlers and the harness killed it, the backend may be
        # stopping on the kernel's parent-death signal instead, which takes a moment.
        grace = 10 if result["_rc"] == -signal.SIGKILL else 0
        deadline = time.time() + grace
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), f"backend {pid} outlived Blender (rc={result['_rc']}):\n" + \
            result["_stdout"][-2000:]
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_quitting_leaves_a_backend_another_blender_started(profile):
    result = run_blender(profile, "process_shared")
    assert result["other_state"] == "ready"
    assert result["found"] == ["ready", True, True]
    assert result["alive_after_disable"] is True and result["answers"] == "ready"
    assert result["stopped_by_owner"] is True


def test_quitting_during_a_job_leaves_no_state_file_or_job_folder(profile, tmp_path):
    """Issue 32: the add-on waited 8 s before SIGKILL, so a backend stopping during a job left
    its state file and job folder behind. Now: /shutdown, up to 3 s, SIGTERM, then SIGKILL."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    result = run_blender(profile, "quit_during_job", expect_rc=None, allow_hang=True,
                         timeout=400, TMPDIR=str(tmp))
    assert result["running"] is True and result["phase"] == "poll"
    pid = result["pid"]
    deadline = time.time() + 20
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    try:
        assert not _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    assert not os.path.exists(result["state_file"])
    assert [p.name for p in tmp.iterdir() if p.name.startswith("slice3d-jobs-")] == []
