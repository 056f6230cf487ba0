"""GET /health names the folder background removal reads, so Blender can offer to place the model
there (issue 31)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from backend_test_support import REPO_ROOT, ServerProcess

from backend.u2net_model import model_present, models_dir

MODEL = REPO_ROOT / ".models" / "u2net" / "u2netp.onnx"


def test_health_reports_the_models_folder(server: ServerProcess):
    health = server.get("/health").json()
    assert health["models_dir"] == str(models_dir())  # the server runs with this environment
    assert health["background_removal_ready"] is model_present() is True
    assert health["models_setup_command"].endswith(f'--dest "{models_dir()}"')


def test_health_turns_ready_once_the_model_is_placed(tmp_path: Path, monkeypatch):
    """A server whose folder is empty says so; copying the model there makes it ready (no
    restart: readiness is read per request)."""
    folder = tmp_path / "models"
    monkeypatch.setenv("SLICE3D_MODELS_DIR", str(folder))
    proc = ServerProcess(tmp_path / "server")
    try:
        before = proc.get("/health").json()
        assert before["models_dir"] == str(folder)
        assert before["models_dir_source"] == "SLICE3D_MODELS_DIR"
        assert before["background_removal_ready"] is False
        folder.mkdir(exist_ok=True)  # the server may have made it already
        shutil.copy(MODEL, folder / "u2netp.onnx")
        assert proc.get("/health").json()["background_removal_ready"] is True
    finally:
        proc.kill()


def test_info_reports_the_models_folder(tmp_path: Path):
    env = dict(os.environ, SLICE3D_MODELS_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "backend", "info"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert f'"models_dir": "{tmp_path}"' in out.stdout
    assert '"background_removal_ready": false' in out.stdout
