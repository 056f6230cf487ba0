"""Blender tests: every scenario runs in its own subprocess with the real bpy module.

bpy can be imported once per process and its state is global, so each test writes a small script,
runs it with this interpreter in an isolated Blender user profile (BLENDER_USER_RESOURCES) where
the built extension zip is installed, and reads back one JSON line. The backend is the real one,
started by the extension as a subprocess over HTTP on loopback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "apple.jpg"
ADDON = "bl_ext.user_default.slice3d"
# The interpreter with the bpy module that runs the scenarios (another Blender version can be
# tested by pointing this at a venv with e.g. bpy 4.2); the backend always runs in this venv.
BLENDER_PY = os.environ.get("SLICE3D_BLENDER_PYTHON", sys.executable)



def bpy_available() -> bool:
    """Whether the scenario interpreter has bpy (checked without importing it here: bpy stays
    out of the pytest process, which also hosts the backend's torch tests)."""
    if sys.executable != BLENDER_PY:
        return os.path.exists(BLENDER_PY)
    return importlib.util.find_spec("bpy") is not None

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def blender_env(profile: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["BLENDER_USER_RESOURCES"] = str(profile)
    env["SLICE3D_PYTHON"] = sys.executable  # the backend runs in this venv (it has torch etc.)
    env.pop("SLICE3D_SERVER_URL", None)
    models = ROOT / ".models" / "u2net"
    if (models / "u2netp.onnx").is_file():
        env.setdefault("U2NET_HOME", str(models))
    env.update(extra)
    return env


def run_blender(profile: Path, scenario: str, args: dict | None = None, *, timeout: float = 300,
                expect_rc: int | None = 0, allow_hang: bool = False, **env: str) -> dict:
    """Run scenarios/<scenario>.py in a fresh process; return the dict it passed to done()."""
    payload = {"example": str(EXAMPLE), "root": str(ROOT), **(args or {})}
    cmd = [BLENDER_PY, str(SCENARIOS / f"{scenario}.py"), json.dumps(payload)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=blender_env(profile, **env), cwd=str(profile.parent))
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if not allow_hang:
            proc.kill()
            raise
        proc.kill()  # bpy as a module may hang in its C++ exit handlers after our atexit ran
        stdout, stderr = proc.communicate()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT:")]
    detail = f"rc={proc.returncode}\nstdout:\n{stdout[-4000:]}\nstderr:\n{stderr[-4000:]}"
    if expect_rc is not None:
        assert proc.returncode == expect_rc, detail
    assert lines, "scenario printed no RESULT line\n" + detail
    result = json.loads(lines[-1][len("RESULT:"):])
    result["_stdout"] = stdout
    result["_rc"] = proc.returncode
    return result


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build and validate the extension zip with Blender's own tool (from the bpy wheel)."""
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_extension.py"),
                           "--output-dir", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def profile(tmp_path_factory: pytest.TempPathFactory, extension_zip: Path):
    """An isolated Blender user profile with the zip installed (not saved as enabled)."""
    prof = tmp_path_factory.mktemp("blender") / "profile"
    prof.mkdir()
    result = run_blender(prof, "install", {"zip": str(extension_zip)})
    assert result["outcome"] == ["FINISHED"] and result["enabled"], result
    yield prof
    # A scenario killed by a timeout cannot clean up: stop the backend its state file names.
    state = prof / "extensions" / ".user" / "user_default" / "slice3d" / "backend" / "state.json"
    if state.is_file():
        with contextlib.suppress(ValueError, OSError, KeyError):
            os.kill(int(json.loads(state.read_text())["pid"]), signal.SIGKILL)
