"""The extension zip: built and validated by Blender's own tool, with the right files in it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile

from bl_harness import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import build_extension  # noqa: E402


def test_manifest_fields():
    manifest = tomllib.loads((ROOT / "blender_manifest.toml").read_text())
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["id"] == "slice3d" and manifest["type"] == "add-on"
    assert manifest["blender_version_min"] >= "4.2.0"
    assert set(manifest["permissions"]) == {"files", "network"}
    assert "wheels" not in manifest  # the Blender side needs only Blender's own Python


def test_zip_contents(extension_zip):
    names = zipfile.ZipFile(extension_zip).namelist()
    for needed in ("blender_manifest.toml", "__init__.py", "operators/reconstruct.py",
                   "operators/modal_base.py", "ui/sidebar.py", "ui/state.py",
                   "client/contract.py", "client/http.py", "scene/build.py",
                   "backend/__init__.py", "backend/__main__.py", "backend/contract.py",
                   "requirements/backend.txt", "requirements/constraints.txt",
                   "scripts/batch.py"):
        assert needed in names, needed
    for banned in ("tests/", "training/", ".venv/", ".git/", "docs/", "examples/", "Makefile"):
        assert not any(n.startswith(banned) for n in names), banned
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)


def test_validate_rejects_a_broken_manifest(tmp_path):
    """The validator really checks (so a passing build means something)."""
    bad = tmp_path / "src"
    bad.mkdir()
    (bad / "__init__.py").write_text("")
    text = (ROOT / "blender_manifest.toml").read_text().replace('schema_version = "1.0.0"', "")
    (bad / "blender_manifest.toml").write_text(text)
    proc = subprocess.run([sys.executable, build_extension.blender_ext_cli(), "validate",
                           str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0


def test_installed_extension_enables(profile):
    """The profile fixture installed the zip with package_install_files and enabled it."""
    assert (profile / "extensions" / "user_default" / "slice3d" / "blender_manifest.toml").is_file()
