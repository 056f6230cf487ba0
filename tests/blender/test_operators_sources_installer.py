"""Image sources sent to the backend, and the installer operator (its machinery: tests/client)."""

from __future__ import annotations

import pytest
from bl_harness import run_blender


@pytest.fixture(scope="module")
def run(profile):
    return run_blender(profile, "sources_installer", timeout=300)


def test_original_file_bytes_are_sent(run):
    assert run["file_same"] and run["file_source"].endswith("apple.jpg")
    assert run["packed_same"]


def test_generated_pixels_are_sent_as_png_and_reconstruct(run):
    assert run["generated_png"] and run["generated_source"] == "Generated Disc"
    assert run["temp_images_left"] == 0
    assert run["disc"] == ["FINISHED"]
    assert 0.2 < max(run["disc_dims"]) < 1.5
    assert run["flip_default"] == "auto" and run["flip_query"] == "off"
    assert run["fill_default"] == "auto" and run["fill_query"] == "off"
    assert run["has_prefs"] and run["flip_after_reset"] == "on"  # from the preferences
    assert run["fill_after_reset"] == "off"


def test_sidebar_and_preference_defaults_are_the_contracts(run):
    contract = dict(run["contract_defaults"])
    contract["resolution"] = str(contract["resolution"])  # an enum in Blender
    assert contract["resolution"] == "256"
    assert run["sidebar_defaults"] == contract
    assert run["prefs_defaults"] == contract


def test_installer_respects_online_access(run):
    assert run["online"] is False and run["install_poll"] is False
