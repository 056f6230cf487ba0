"""The UI path of Reconstruct (modal timer), driven by hand since bpy as a module has no window."""

from __future__ import annotations

import shutil

import pytest
from bl_harness import EXAMPLE, run_blender


@pytest.fixture(scope="module")
def run(profile, tmp_path_factory):
    folder = tmp_path_factory.mktemp("batch_ui")
    (folder / "in").mkdir()
    shutil.copy(EXAMPLE, folder / "in" / "apple.jpg")
    (folder / "in" / "bad.png").write_bytes(b"no picture here")
    return run_blender(profile, "modal", {"batch_dir": str(folder / "in"),
                                          "batch_out": str(folder / "out")}, timeout=400)


def test_modal_reconstruct_imports_on_finish(run):
    assert run["started"] is True
    assert run["outcome"] == ["FINISHED"]
    assert run["colls"] == ["Slice3D apple"]
    assert len(run["reports"]) == 1 and run["reports"][0][0] == "INFO"
    assert run["reports"][0][1].startswith('Added "Slice3D apple"; the result is kept in ')
    assert run["stage"] == ["Done"]


def test_the_bar_shows_the_backends_stage_words_and_the_elapsed_time(run):
    """Issue 31: the stage read as a code word ("Sdf") and no time was shown."""
    text = run["bar_text"]
    assert text.endswith(" s)") and "(" in text, text
    assert text.split(" (")[0] not in ("Sdf", "Mask", "Predict", "Cleanup", "Decode"), text


def test_after_cancel_the_next_job_starts_at_once(run):
    assert run["outcome4"] == ["FINISHED"]
    assert run["cancelled_state"] == "cancelled"  # the backend stopped it, it did not finish


def test_modal_cancel_adds_nothing(run):
    assert run["cancel"] == ["FINISHED"]
    assert run["outcome2"] == ["CANCELLED"]
    assert run["reports2"] == [["WARNING", "Reconstruction cancelled"]]
    assert run["colls2"] == ["Slice3D apple"]


def test_batch_folder_in_the_ui(run):
    assert run["prepared"] is True
    assert run["outcome3"] == ["FINISHED"]  # at least one image worked
    assert run["results3"] == [["apple.jpg", True], ["bad.png", False]]
    # Issue 31: the failed file is named in the UI report, not only on the console.
    assert len(run["reports3"]) == 1 and run["reports3"][0][0] == "WARNING"
    assert run["reports3"][0][1].startswith(
        "Batch: 1 of 2 images reconstructed; failed: bad.png (")
    assert run["ui_message"] == run["reports3"][0][1]
    assert run["colls3"] == ["Slice3D apple", "Slice3D apple.001"]
