"""The Batch Folder operator (its UI run is in test_operators_modal.py)."""

from __future__ import annotations

from bl_harness import run_blender


def test_cancel_in_the_file_browser_is_quiet(profile):
    """Blender calls cancel() when the user cancels the file browser, before execute() ran."""
    assert run_blender(profile, "batch_cancel", timeout=120)["cancel"] == ["ok"]
