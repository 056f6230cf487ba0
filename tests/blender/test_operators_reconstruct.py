"""Reconstruct against a real backend subprocess: the scene contract, alignment, names."""

from __future__ import annotations

import pytest
from bl_harness import run_blender


@pytest.fixture(scope="module")
def run(profile):
    return run_blender(profile, "reconstruct", timeout=400)


def test_reconstruct_finishes(run):
    assert run["outcome"] == ["FINISHED"] and run["outcome2"] == ["FINISHED"]
    assert run["timings"], "the panel's last timings come from the backend"


def test_collection_layout(run):
    first = run["first"]
    assert first["name"] == "Slice3D apple"
    assert first["slices_name"] == "Slices"
    assert first["axes"] == ["X", "Y", "Z"]
    assert first["mesh_count"] == 1 and first["camera_count"] == 1
    assert sum(len(v) for v in first["planes"].values()) == 12
    assert first["planes"]["Z"] == ["apple Z1", "apple Z2", "apple Z3", "apple Z4"]
    assert first["n_objects"] == 14  # mesh + camera + 12 planes, nothing else (no glTF empties)


def test_only_z_visible(run):
    first = run["first"]
    assert first["hidden"] == {"X": True, "Y": True, "Z": False}
    assert first["render_hidden"] == {"X": True, "Y": True, "Z": False}


def test_mesh_has_sensible_size(run):
    first = run["first"]
    assert first["n_verts"] > 100
    assert 0.2 < max(first["dims"]) < 1.5
    assert all(abs(c) < 0.3 for c in first["centre"])


def test_camera_matches_the_input_view(run):
    first = run["first"]
    assert first["cam_loc"] == pytest.approx([0, -1.2, 0], abs=1e-6)
    assert first["cam_dir"] == pytest.approx([0, 1, 0], abs=1e-6)
    assert first["cam_up"] == pytest.approx([0, 0, 1], abs=1e-6)
    assert first["lens"] == pytest.approx(35) and first["sensor"] == pytest.approx(32)
    assert run["square"][0] == run["square"][1]
    assert run["scene_camera"].startswith("apple Camera")  # the photo camera, by default


def test_custom_properties_and_materials(run):
    first = run["first"]
    assert first["props_ok"]
    assert first["source"].endswith("apple.jpg") and first["job"] and first["model"]
    assert first["images_packed"] and first["blend_ok"]


def test_slice_planes_line_up_with_the_mesh(run):
    first = run["first"]
    assert first["plane_corner_error"] < 1e-4
    assert first["in_union"] > 0.9, first
    assert first["in_own_z"] > 0.6, first
    assert first["in_shifted"] < first["in_union"] - 0.2  # the check can fail


def test_second_run_does_not_collide(run):
    assert run["colls"] == ["Slice3D apple", "Slice3D apple.001"]
    second = run["second"]
    assert second["n_objects"] == 14
    assert run["first_again"] == 14
    names_1 = {n for v in run["first"]["planes"].values() for n in v}
    names_2 = {n for v in second["planes"].values() for n in v}
    assert not names_1 & names_2


def test_disable_stops_the_backend(run):
    assert run["backend_alive_after"] is False


def test_repeat_last_does_not_rerun_it_and_it_stays_one_undo_step(profile):
    """Repeat Last (Shift+R) would call the synchronous execute() and freeze the UI."""
    result = run_blender(profile, "reconstruct_repeat", timeout=120)
    assert result["outcome"] == ["FINISHED"]
    assert result["repeated"] == 0
    assert result["undone"] is True
