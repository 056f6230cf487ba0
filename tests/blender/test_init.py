"""register()/unregister(): everything registered is removed again, and no process survives."""

from __future__ import annotations

import pytest
from bl_harness import run_blender


@pytest.fixture(scope="module")
def run(profile):
    return run_blender(profile, "lifecycle", timeout=300)


def test_registers_operators_panels_and_preferences(run):
    assert run["registered"] == run["classes"]
    assert {"SLICE3D_OT_reconstruct", "SLICE3D_OT_cancel", "SLICE3D_OT_import_bundle",
            "SLICE3D_OT_batch", "SLICE3D_OT_backend_start", "SLICE3D_OT_backend_stop",
            "SLICE3D_OT_backend_restart", "SLICE3D_OT_install_backend", "VIEW3D_PT_slice3d",
            "IMAGE_PT_slice3d", "Slice3DPreferences"} <= set(run["classes"])


def test_user_data_lives_in_the_extension_user_folder(run):
    assert run["user_dir"].startswith(run["profile"])
    assert "/extensions/.user/user_default/slice3d" in run["user_dir"]


def test_panels_draw_known_properties_and_operators(run):
    assert run["draw_errors"] == []


def test_backend_start_and_restart(run):
    assert run["start"] == ["FINISHED"] and run["status"] == "ready"
    assert run["restart"] == ["FINISHED"] and run["pids"][0] != run["pids"][1]
    assert run["alive"][0] is False  # the restart stopped the first one


def test_idle_crash_is_reported_by_the_watch(run):
    assert run["crash_status"][0] == "error"
    assert "killed by signal 9" in run["crash_status"][1]
    assert run["watch_next"] is None  # nothing left to watch until the next start


def test_unregister_leaves_nothing_behind(run):
    assert run["left_classes"] == []
    assert run["scene_prop"] is False
    assert run["handlers"] is True
    assert run["timer"] is False
    assert run["menu"][0] == run["menu"][2] == run["menu"][1] - 1
    assert run["alive"] == [False, False]
