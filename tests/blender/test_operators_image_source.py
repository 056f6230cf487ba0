"""The bytes sent for an image: formats the backend does not read go as a PNG of the pixels."""

from __future__ import annotations

import pytest
from bl_harness import run_blender


@pytest.fixture(scope="module")
def run(profile):
    return run_blender(profile, "image_formats", timeout=120)


@pytest.mark.parametrize("fmt", ["bmp", "tga", "exr", "hdr"])
def test_formats_the_backend_does_not_read_are_sent_as_png(run, fmt):
    """Blender shows BMP, Targa, OpenEXR and HDR images; the backend reads none of them."""
    assert run["sidebar"][fmt][:3] == ["PNG", [64, 64], True], run["sidebar"][fmt]
    assert run["sidebar"][fmt][3] == "square." + fmt  # the image's name


@pytest.mark.parametrize("fmt", ["bmp", "tga", "exr", "hdr"])
def test_batch_converts_them_too(run, fmt):
    """The Batch Folder operator lists .bmp, .tga and .exr files; the batch script takes any."""
    assert run["batch"][fmt] == ["PNG", [64, 64], True], run["batch"][fmt]
    assert run["temp_images_left"] == 0  # the images loaded for converting are removed again


def test_an_unreadable_file_is_reported_not_sent(run):
    assert run["junk"].startswith("cannot read: ") and "Blender cannot read" in run["junk"]
