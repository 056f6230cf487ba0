"""Issue 31: the first Reconstruct of a JPEG photo works in each backend mode on a fresh profile
(Python Interpreter, Installed Environment, Remote Server against a real `backend serve`), and the
result is kept where the user finds it, re-importable and exportable with Blender's exporters."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from bl_harness import ROOT, run_blender


def fresh_profile(tmp_path: Path, extension_zip: Path) -> Path:
    """A new Blender user profile with only the extension zip installed."""
    prof = tmp_path / "profile"
    prof.mkdir()
    result = run_blender(prof, "install", {"zip": str(extension_zip)})
    assert result["outcome"] == ["FINISHED"] and result["enabled"], result
    return prof


def first_run(tmp_path: Path, extension_zip: Path, args: dict) -> dict:
    prof = fresh_profile(tmp_path, extension_zip)
    export = tmp_path / "export"
    export.mkdir()
    # SLICE3D_PYTHON="" : the mode and interpreter come from the preferences, as for a user.
    return run_blender(prof, "first_run", {"export_dir": str(export), **args}, timeout=500,
                       SLICE3D_PYTHON="")


def assert_mesh_arrived(result: dict) -> None:
    assert result["outcome"] == ["FINISHED"], result
    assert result["faces"] > 100
    assert result["smooth"] is True  # the Smooth Shading option, on by default
    assert result["scene_camera"] == "apple Camera"  # Use as Scene Camera, on by default


def test_python_interpreter_mode_keeps_the_result_beside_the_blend(tmp_path, extension_zip):
    blend = tmp_path / "work" / "shot.blend"
    blend.parent.mkdir()
    result = first_run(tmp_path, extension_zip, {"mode": "LOCAL", "python": sys.executable,
                                                  "blend": str(blend)})
    assert_mesh_arrived(result)
    assert result["kept"] == str(tmp_path / "work" / "shot_slice3d" / "apple")
    assert {"mesh.glb", "result.json", "slices", ".slice3d-bundle"} <= set(result["kept_files"])
    assert result["kept"] in result["message"]
    assert result["reimport"] == ["FINISHED"] and result["reimported_faces"] == result["faces"]
    assert result["obj"] == ["FINISHED"] and result["obj_faces"] == result["faces"]
    assert result["glb"] == ["FINISHED"] and result["glb_bytes"] > 1000


def test_installed_environment_mode_says_what_to_press_then_works(tmp_path, extension_zip):
    chosen = tmp_path / "my results"
    result = first_run(tmp_path, extension_zip, {
        "mode": "INSTALLED", "venv_target": str(ROOT / ".venv"),
        "results_folder": str(chosen)})
    outcome, message = result["before_install"]
    assert outcome == ["CANCELLED"]
    assert "press Install Backend Environment" in message and "Traceback" not in message
    assert_mesh_arrived(result)
    assert result["kept"] == str(chosen / "apple")  # the folder set in the preferences


@pytest.fixture()
def remote_server(tmp_path):
    """A real `python -m backend serve` on loopback, as someone else would run it."""
    token_file, state_file = tmp_path / "token", tmp_path / "state.json"
    proc = subprocess.Popen([sys.executable, "-m", "backend", "serve", "--token-file",
                             str(token_file), "--state-file", str(state_file), "--port", "0",
                             "--device", "cpu"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 180
        while not state_file.is_file():
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.2)
        yield json.loads(state_file.read_text())["url"], token_file.read_text().strip()
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
        if proc.poll() is None:
            proc.kill()


def test_remote_server_mode_keeps_the_result_in_the_user_folder(tmp_path, extension_zip,
                                                                remote_server):
    url, token = remote_server
    result = first_run(tmp_path, extension_zip, {"mode": "REMOTE", "server_url": url,
                                                  "token": token})
    assert_mesh_arrived(result)
    # The file is unsaved: the extension's user folder keeps it.
    assert result["kept"].endswith(os.path.join("slice3d", "results", "apple"))
    assert str(tmp_path / "profile") in result["kept"]
