"""The sidebar's more photos of one object (issue 35), without a backend: the list operators,
the limit of six photos in all, and the messages that stop Reconstruct before anything starts."""

from __future__ import annotations

import shutil

import pytest
from bl_harness import EXAMPLE, ROOT, run_blender


@pytest.fixture(scope="module")
def run(profile, tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    photos = []
    for k in range(6):
        photos.append(folder / f"photo{k}.png")
        shutil.copy(ROOT / "examples" / "wheel.png", photos[-1])
    shutil.copy(EXAMPLE, folder / "gone.jpg")
    return run_blender(profile, "photos", {"photos": [str(p) for p in photos],
                                           "gone": str(folder / "gone.jpg")}, timeout=120)


def test_photos_are_added_from_files_up_to_six_in_all(run):
    assert run["add"] == "FINISHED" and run["after_add"] == ["photo0.png", "photo1.png"]
    assert run["add_too_many"] == "FINISHED"  # three of six fit, the rest are named
    assert run["after_too_many"] == 5 and run["add_poll_full"] is False


def test_too_many_photos_stop_reconstruct_with_the_reason(run):
    assert run["reconstruct_poll_seven"] is False
    assert run["reconstruct_seven"].startswith("ERROR")
    assert "At most 6 photos in all: remove 1 from the list" in run["reconstruct_seven"]
    assert any("At most 6 photos in all" in line for line in run["panel_seven"])


def test_remove_and_reorder(run):
    assert run["after_remove"] == ["photo0.png", "photo1.png"]
    assert run["move_up"] == "FINISHED" and run["after_move"] == ["photo1.png", "photo0.png"]
    assert run["index_after_move"] == 0 and run["move_past_top"] == "CANCELLED"


def test_an_empty_slot_is_named(run):
    assert run["reconstruct_poll_empty"] is False
    assert "Photo 4 has no image: choose one or remove it" in run["reconstruct_empty"]


def test_a_missing_file_is_named_and_nothing_starts(run):
    assert run["reconstruct_missing"].startswith("ERROR")
    assert 'Cannot read photo 4 ("gone.jpg")' in run["reconstruct_missing"]
    assert run["job_started"] is False
    assert run["add_missing"].startswith("ERROR")
    assert "Cannot open never.jpg (no such file)" in run["add_missing"]


def test_known_poses_go_in_degrees_the_main_photos_azimuth_zero(run):
    assert run["poses"][0] == pytest.approx([0.0, 90.0, 180.0, 270.0])
    assert run["poses"][1] == pytest.approx([20.0, 0.0, 10.0, 20.0])
    assert run["poses_off"] == [None, None]


def test_the_panel_draws_and_says_what_the_list_is_for(run):
    assert any("more photos of the same object" in line for line in run["empty_panel"])
    assert not any("At most" in line or "no image" in line for line in run["panel_ok"])
    assert run["panel_ok"][:3] == ["2", "3", "4"]  # the rows: photos 2 to 4
    assert not any(line.startswith("NO PROPERTY") for line in run["panel_poses"])
