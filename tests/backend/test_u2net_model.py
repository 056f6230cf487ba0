"""backend.u2net_model: the one folder the backend reads u2netp from, and setup-models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from backend_test_support import APPLE

from backend import u2net_model
from backend.u2net_model import REPO_MODELS_DIR, locate, model_present, models_dir, shared_dir

REPO_ROOT = REPO_MODELS_DIR.parent.parent
MODEL = REPO_MODELS_DIR / "u2netp.onnx"  # `make setup` / setup-models placed it for the tests
VARIABLES = ("SLICE3D_MODELS_DIR", "U2NET_HOME", "XDG_DATA_HOME")


@pytest.fixture
def no_variables(monkeypatch, tmp_path) -> Path:
    """No override variables; HOME is an empty tmp folder (so ~/.u2net is empty)."""
    for var in VARIABLES:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a new user's backend: HOME=home, no model variables."""
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    return {**env, "HOME": str(home), "PYTHONPATH": "", **extra}


def test_slice3d_models_dir_wins_over_u2net_home(monkeypatch, tmp_path):
    monkeypatch.setenv("SLICE3D_MODELS_DIR", str(tmp_path / "ours"))
    monkeypatch.setenv("U2NET_HOME", str(tmp_path / "rembg"))
    assert locate() == (tmp_path / "ours", "SLICE3D_MODELS_DIR")
    assert not model_present()  # an empty folder holds no model, even if another one does


def test_u2net_home_wins(monkeypatch, tmp_path):
    monkeypatch.delenv("SLICE3D_MODELS_DIR", raising=False)
    monkeypatch.setenv("U2NET_HOME", str(tmp_path))
    assert models_dir() == tmp_path
    assert not model_present()


def test_search_order_without_variables(no_variables, monkeypatch, tmp_path):
    """~/.u2net when it holds the model, else the backend's .models/u2net, else ~/.u2net."""
    assert locate() == (REPO_MODELS_DIR, "backend")  # only the clone's copy exists
    (no_variables / ".u2net").mkdir()
    shutil.copy(MODEL, no_variables / ".u2net" / "u2netp.onnx")
    assert locate() == (no_variables / ".u2net", "shared")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(u2net_model, "REPO_MODELS_DIR", tmp_path / "no-models")
    assert locate() == (tmp_path / "xdg" / ".u2net", "default")  # nothing anywhere: rembg's
    assert shared_dir() == tmp_path / "xdg" / ".u2net"


def test_a_damaged_copy_is_not_the_model(tmp_path):
    (tmp_path / "u2netp.onnx").write_bytes(MODEL.read_bytes()[:-1])
    assert not model_present(tmp_path)


def test_setup_models_into_a_chosen_folder_keeps_a_good_copy(tmp_path):
    """With the model already at --dest (checksum good), setup-models reuses it: no download."""
    dest = tmp_path / "user" / "u2net"
    dest.mkdir(parents=True)
    shutil.copy(MODEL, dest / "u2netp.onnx")
    before = (dest / "u2netp.onnx").stat().st_mtime_ns
    out = subprocess.run(
        [sys.executable, "-m", "backend", "setup-models", "--dest", str(dest)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert str(dest / "u2netp.onnx") in out.stdout
    assert (dest / "u2netp.onnx").stat().st_mtime_ns == before
    assert model_present(dest)


def test_setup_models_writes_where_an_installed_extension_reads(tmp_path):
    """Issue 31: setup-models from the clone wrote the clone's .models/, which the extension's
    backend never reads. Now it writes ~/.u2net (copying the clone's copy: no network), and a
    backend run from another folder (the extension's copy of backend/) reports that folder."""
    home = tmp_path / "home"
    home.mkdir()
    out = subprocess.run([sys.executable, "-m", "backend", "setup-models"], cwd=REPO_ROOT,
                         env=clean_env(home), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert model_present(home / ".u2net")

    extension = tmp_path / "extension"
    shutil.copytree(REPO_ROOT / "backend", extension / "backend",
                    ignore=shutil.ignore_patterns("__pycache__"))
    info = subprocess.run([sys.executable, "-m", "backend", "info"], cwd=extension,
                          env=clean_env(home), capture_output=True, text=True, timeout=300)
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    assert report["models_dir"] == str(home / ".u2net")
    assert report["background_removal_ready"] is True
    assert str(home / ".u2net") in report["models_setup_command"]


def test_missing_model_message_names_the_folder_and_the_command(tmp_path):
    """A reconstruction without the model (and no network) names the folder it read and the
    command that puts the model there."""
    empty = tmp_path / "models"
    env = clean_env(tmp_path, SLICE3D_MODELS_DIR=str(empty),
                    HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy", "https_proxy", "http_proxy"):
        env.pop(var, None)
    out = subprocess.run(
        [sys.executable, "-m", "backend", "reconstruct", str(APPLE), "-o", str(tmp_path / "out"),
         "--resolution", "32"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode != 0
    text = " ".join((out.stdout + out.stderr).split())
    assert f"not in {empty}" in text
    assert f'python -m backend setup-models --dest "{empty}"' in text
