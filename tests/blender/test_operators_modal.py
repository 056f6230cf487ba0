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
    assert run["reports"] == [["INFO", 'Added "Slice3D apple"']]
    assert run["stage"] == ["Done"]


def test_modal_cancel_adds_nothing(run):
    assert run["cancel"] == ["FINISHED"]
    assert run["outcome2"] == ["CANCELLED"]
    assert run["reports2"] == [["WARNING", "Reconstruction cancelled"]]
    assert run["colls2"] == ["Slice3D apple"]


def test_batch_folder_in_the_ui(run):
    assert run["prepared"] is True
    assert run["outcome3"] == ["FINISHED"]  # at least one image worked
    assert run["results3"] == [["apple.jpg", True], ["bad.png", False]]
    assert run["reports3"] == [["WARNING", "Batch: 1 of 2 images reconstructed"]]
    assert run["colls3"] == ["Slice3D apple", "Slice3D apple.001"]
