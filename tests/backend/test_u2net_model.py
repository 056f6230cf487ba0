"""backend.u2net_model: where the u2netp model is found, and setup-models --dest."""

from __future__ import annotations

import shutil
import subprocess
import sys

from backend.u2net_model import REPO_MODELS_DIR, model_home, model_present

REPO_ROOT = REPO_MODELS_DIR.parent.parent


def test_u2net_home_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    assert model_home() == tmp_path
    assert not model_present()  # an empty folder holds no model


def test_setup_models_into_a_chosen_folder_keeps_a_good_copy(tmp_path):
    """With the model already at --dest (checksum good), setup-models reuses it: no download."""
    dest = tmp_path / "user" / "u2net"
    dest.mkdir(parents=True)
    shutil.copy(REPO_MODELS_DIR / "u2netp.onnx", dest / "u2netp.onnx")
    before = (dest / "u2netp.onnx").stat().st_mtime_ns
    out = subprocess.run(
        [sys.executable, "-m", "backend", "setup-models", "--dest", str(dest)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert str(dest / "u2netp.onnx") in out.stdout
    assert (dest / "u2netp.onnx").stat().st_mtime_ns == before
    assert model_present(dest)
