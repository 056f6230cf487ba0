"""The light sheet's image statistics on pictures whose answers are known."""

from __future__ import annotations

import numpy as np

from training.data.light_sheet import histogram_distance, image_stats, on_white


def _rgba(rgb, alpha: int = 255, size: int = 16) -> np.ndarray:
    im = np.zeros((size, size, 4), np.uint8)
    im[4:12, 4:12, :3] = rgb
    im[4:12, 4:12, 3] = alpha
    return im


def test_flat_grey_square():
    s = image_stats(_rgba((128, 128, 128)))
    assert abs(s["mean_lum"] - 128 / 255) < 1e-6
    assert s["rms_contrast"] < 1e-9 and s["saturation"] == 0 and s["gradient"] < 1e-9
    assert s["dark"] == 0 and image_stats(_rgba((10, 10, 10)))["dark"] == 1


def test_saturation_and_contrast():
    red = image_stats(_rgba((200, 0, 0)))
    assert red["saturation"] == 1.0
    half = _rgba((0, 0, 0))
    half[4:8, 4:12, :3] = 255
    s = image_stats(half)
    assert abs(s["rms_contrast"] - 0.5) < 1e-6 and s["gradient"] > 0.05


def test_histogram_distance_and_white_composite():
    a, b = _rgba((200, 30, 30)), _rgba((30, 30, 200))
    assert histogram_distance(a, a) == 0 and histogram_distance(a, b) == 1
    assert (on_white(_rgba((0, 0, 0), alpha=0)) == 1).all()  # transparent -> white
