"""The UI path of Reconstruct (modal timer), driven by hand since bpy as a module has no window."""

from __future__ import annotations

import pytest
from bl_harness import run_blender


@pytest.fixture(scope="module")
def run(profile):
    return run_blender(profile, "modal", timeout=400)


def test_modal_reconstruct_imports_on_finish(run):
    assert run["started"] is True
    assert run["outcome"] == ["FINISHED"]
    assert run["colls"] == ["Slice3D apple"]
    assert run["reports"] == [["INFO", 'Added "Slice3D apple"']]
    assert run["stage"] == ["Done"]


def test_modal_cancel_adds_nothing(run):
    assert run["cancel"] == ["FINISHED"]
    assert run["outcome2"] == ["CANCELLED"]
    assert run["reports2"] == [["WARNING", "Reconstruction cancelled"]]
    assert run["colls2"] == ["Slice3D apple"]
