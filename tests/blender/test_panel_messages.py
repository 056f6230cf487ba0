"""Issue 31: no raw traceback in the panel (a short message, details in the console), and a
stale error is cleared once the backend restarts successfully."""

from __future__ import annotations

import subprocess
import sys

from bl_harness import run_blender


def test_a_python_without_packages_then_a_restart(profile, tmp_path):
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True, timeout=120)
    result = run_blender(profile, "panel_messages", {
        "bare": str(tmp_path / "bare" / "bin" / "python"), "good": sys.executable},
        timeout=300, SLICE3D_PYTHON="")
    assert result["failed"] == ["CANCELLED"] and result["failed_error"] is True
    message = result["failed_message"]
    assert message.startswith("Reconstruction failed: This Python lacks the backend's packages (")
    assert "install requirements/backend.txt or use Installed Environment" in message
    assert "Traceback" not in message and "File \"" not in message
    assert "Traceback" not in result["status_message"]
    assert result["restart"] == ["FINISHED"] and result["after_status"] == "ready"
    assert result["after_message"] == "" and result["after_status_message"] == ""
