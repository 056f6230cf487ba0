"""Cancel and crash handling of the reconstruct operator, against a real backend subprocess."""

from __future__ import annotations

import pytest
from bl_harness import run_blender


@pytest.fixture(scope="module")
def run(profile):
    return run_blender(profile, "robustness", timeout=400)


def test_cancel_mid_job_leaves_the_scene_unchanged(run):
    assert run["cancel_outcome"] == ["CANCELLED"] and run["cancel_error"] == ""
    assert run["cancel_job_outcome"] == "cancelled"
    assert run["cancel_unchanged"]
    assert run["cancel_backend_state"] in ("cancelled", "404")


def test_cancel_operator_polls_and_cancels(run):
    assert run["poll_cancel_idle"] is False
    assert run["poll_cancel_running"] is True
    assert run["poll_reconstruct_running"] is False  # one job at a time, the button says why
    assert run["cancel_op"] == ["FINISHED"]
    assert run["op_job_outcome"] == "cancelled"
    assert run["op_unchanged"]


def test_killed_backend_gives_a_clear_error(run):
    assert run["kill_outcome"] == ["ERROR"]
    assert "backend process was killed by signal 9" in run["kill_error"]
    assert run["kill_unchanged"]
    assert run["status_after_kill"][0] == "error"


def test_next_run_after_a_crash_works(run):
    assert run["next_outcome"] == ["FINISHED"], run["next_error"]
    assert run["pids"][0] != run["pids"][1]
    assert run["collections"] == ["Slice3D apple"]
    assert run["backend_alive_after"] is False
