"""Import an existing result bundle (also File > Import); a broken bundle adds nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from bl_harness import EXAMPLE, ROOT, run_blender


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> dict:
    """A real bundle from the backend's command line, its zip, and a damaged copy."""
    out = tmp_path_factory.mktemp("bundles")
    proc = subprocess.run([sys.executable, "-m", "backend", "reconstruct", str(EXAMPLE), "-o",
                           str(out), "--resolution", "64"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bundle = out / "apple"
    zip_path = Path(shutil.make_archive(str(out / "apple_bundle"), "zip", bundle))
    # The bundle folder itself zipped (apple/result.json inside), as `zip -r` or Compress make it.
    folder_zip = shutil.make_archive(str(out / "apple_folder"), "zip", out, "apple")
    no_bundle = shutil.make_archive(str(out / "no_bundle"), "zip", bundle / "slices")
    broken = out / "broken"
    shutil.copytree(bundle, broken)
    (broken / "slices" / "Z3.png").write_bytes(b"not a png at all")
    return {"bundle": str(bundle), "zip": str(zip_path), "broken": str(broken),
            "folder_zip": folder_zip, "no_bundle": no_bundle}


@pytest.fixture(scope="module")
def run(profile, bundles):
    return run_blender(profile, "scene_import", bundles)


def test_file_import_menu_entry(run):
    assert run["menu"]


def test_imports_folder_json_and_zip(run):
    assert run["folder"] == run["json"] == run["zip"] == "FINISHED"
    assert run["collections"] == ["Slice3D apple", "Slice3D apple.001", "Slice3D apple_bundle"]
    assert run["objects"]["Slice3D apple"] == 14


def test_axis_choice(run):
    assert run["axes_json"] == ["Z"]
    assert run["objects"]["Slice3D apple.001"] == 6


def test_broken_bundle_adds_nothing(run):
    assert run["broken"].startswith("ERROR") and "Import failed" in run["broken"]
    assert run["broken_unchanged"]
    assert run["missing"].startswith("ERROR")
    assert run["missing_unchanged"]


def test_one_undo_takes_a_whole_import_back_and_redo_restores_it(run):
    assert run["undo_flag"] and run["reimport"] == "FINISHED"
    assert run["undo"] == "FINISHED" and run["undo_restores"]
    assert run["undo_collections"] == ["Slice3D apple", "Slice3D apple.001",
                                       "Slice3D apple_bundle"]
    assert run["redo"] == "FINISHED" and run["redo_restores"]


def test_zip_of_a_bundle_folder_imports(run):
    assert run["folder_zip"] == "FINISHED"
    assert run["folder_zip_objects"] == 14


def test_zip_without_a_bundle_is_named_in_the_error(run, bundles):
    assert run["no_bundle"].startswith("ERROR") and "no result.json" in run["no_bundle"]
    assert bundles["no_bundle"] in run["no_bundle"] and "slice3d-bundle-" not in run["no_bundle"]
    assert run["no_bundle_unchanged"] and run["temp_folders_left"] == 0
