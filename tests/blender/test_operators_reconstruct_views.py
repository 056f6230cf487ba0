"""Reconstruct with more photos of the object (issue 35) against a real backend subprocess: one
mesh, a camera per photo at its pose; cancel adds nothing (one undo step for the whole import:
test_scene_build.py)."""

from __future__ import annotations

import pytest
from bl_harness import EXAMPLE, ROOT, run_blender


@pytest.fixture(scope="module")
def run(profile):
    return run_blender(profile, "reconstruct_views",
                       {"second": str(EXAMPLE), "other": str(ROOT / "examples" / "wheel.png")},
                       timeout=400)


def test_cancel_while_it_runs_adds_nothing(run):
    assert run["started"] is True and run["cancel"] == ["FINISHED"]
    assert run["cancelled"] == ["CANCELLED"] and run["unchanged_after_cancel"]
    assert run["reports_cancel"] == [["WARNING", "Reconstruction cancelled"]]


def test_one_mesh_and_a_camera_per_photo(run):
    assert run["outcome"] == ["FINISHED"], run["reports"]
    assert run["meshes"] == ["apple Mesh"]
    assert sorted(run["cameras"]) == ["apple Camera", "apple Camera 2"]
    assert run["reports"][-1][0] == "INFO" and run["reports"][-1][1].startswith('Added "')


def test_the_second_camera_looks_from_behind(run):
    """Azimuth 180 at the main photo's elevation: opposite the main camera, facing it."""
    main, second = run["cameras"]["apple Camera"], run["cameras"]["apple Camera 2"]
    assert main["location"] == pytest.approx([0.0, -1.2, 0.0], abs=1e-5)
    assert second["location"] == pytest.approx([0.0, 1.2, 0.0], abs=1e-4)
    assert second["direction"] == pytest.approx([0.0, -1.0, 0.0], abs=1e-4)
    assert second["pose"] == "given" and second["source"] == "apple.jpg.001"
    assert main["backgrounds"] == second["backgrounds"] == 1


def test_a_photo_of_something_else_is_left_out_and_named(run):
    """Poses found by the backend: the wheel matches no pose of the apple; the job goes on."""
    assert run["outcome_auto"] == ["FINISHED"], run["reports_auto"]
    assert run["auto_cameras"] == ["apple Camera.001"]  # only the main photo's (names taken)
    level, message = run["reports_auto"][-1]
    assert level == "WARNING" and message.startswith('Added "Slice3D apple.001"')
    assert '. Photo 2 (wheel.png) was left out: ' in message, message
    assert run["ui_message"] == message
