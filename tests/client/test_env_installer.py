"""The backend-environment installer's machinery (moved from the Blender tests: no bpy needed)."""

from __future__ import annotations

import sys

from conftest import ROOT

from client.env_installer import EnvInstaller, InstallPlaces, install_commands


def places(tmp_path) -> InstallPlaces:
    return InstallPlaces(addon_root=str(ROOT), venv_dir=str(tmp_path / "venv"),
                         models_dir=str(tmp_path / "models"))


def test_install_commands(tmp_path):
    cmds = install_commands(sys.executable, False, places(tmp_path))
    labels = [label for label, _ in cmds]
    assert labels[0] == "Creating the environment"
    assert "Installing the background-removal model" in labels
    assert any("whl/cpu" in " ".join(argv) for _, argv in cmds)
    assert any("whl/cu" in " ".join(argv)
               for _, argv in install_commands(sys.executable, True, places(tmp_path)))


def test_installer_runs_steps_and_reports_failures(tmp_path):
    """EnvInstaller with real (harmless) subprocesses: progress, log, failure message."""
    log = tmp_path / "install.log"
    ok = EnvInstaller([("Step one", [sys.executable, "-c", "print('Collecting numpy')"]),
                       ("Step two", [sys.executable, "-c", "print('done')"])], str(log),
                      str(ROOT))
    ok.run_sync()
    text = log.read_text()
    bad = EnvInstaller([("Failing step", [sys.executable, "-c", "import sys; sys.exit(4)"])],
                       str(log))
    bad.run_sync()
    assert [ok.error, ok.progress, "Collecting numpy" in text, ok.label] == \
        ["", 1.0, True, "Installed"]
    assert "Failing step failed (exit code 4)" in bad.error
    assert bad.label == "Failed"
