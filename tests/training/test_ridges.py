"""training.ridges: the back surface traced on x = 0, its ridge amplitude and period."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from training import ridges as R

YS = np.linspace(-0.2, 0.2, 600)
ZS = np.linspace(-0.55, 0.55, 2201)


def slab_with_ridged_back(amplitude: float, period: float):
    """Inside between a back face z = -0.2 + a sin(2 pi y / p) and a flat front z = 0.2."""

    def sdf(pts: np.ndarray) -> np.ndarray:
        back = -0.2 + amplitude * np.sin(2 * np.pi * pts[:, 1] / period)
        return np.maximum(back - pts[:, 2], pts[:, 2] - 0.2)

    return sdf


def test_traces_the_back_face():
    depth = R.back_depth(slab_with_ridged_back(0.01, 0.05), YS, ZS)
    want = -0.2 + 0.01 * np.sin(2 * np.pi * YS / 0.05)
    np.testing.assert_allclose(depth, want, atol=2e-4)


def test_a_flat_back_has_no_ridges():
    stats = R.ridge_stats(R.back_depth(slab_with_ridged_back(0.0, 1.0), YS, ZS), YS)
    assert stats["rows"] == 600 and stats["std"] < 1e-6


def test_amplitude_and_period_of_a_known_ridge():
    texel = 0.005
    period = 2 * texel  # 2 texels, as nearest-neighbour upsampling from 32 to 64 px prints
    depth = R.back_depth(slab_with_ridged_back(0.002, period), YS, ZS)
    stats = R.ridge_stats(depth, YS, texel=texel)
    assert stats["std"] == pytest.approx(0.002 / np.sqrt(2), rel=0.1)
    assert stats["periods_texels"][0] == pytest.approx(2.0, rel=0.05)


def test_rows_that_miss_the_object_are_left_out():
    def ball(pts: np.ndarray) -> np.ndarray:
        return np.linalg.norm(pts, axis=1) - 0.1

    depth = R.back_depth(ball, YS, ZS)
    hit = np.abs(YS) < 0.1
    assert np.isnan(depth[~hit]).all() and not np.isnan(depth[hit]).any()
    np.testing.assert_allclose(depth[hit], -np.sqrt(0.01 - YS[hit] ** 2), atol=2e-4)
    assert R.ridge_stats(np.full(600, np.nan), YS)["std"] is None


def test_command_line_on_a_network(tmp_path, capsys):
    torch.manual_seed(0)
    cfg = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1,
           "ff": 32}
    weights = save_weights(Slice3DCompact(ModelConfig.from_dict(cfg)), tmp_path / "w.safetensors",
                           dtype=torch.float32)
    assert R.main(["--weights", str(weights), "--heights", "80", "--span", "0.1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(weights)) and "ridge std" in line and "/80" in line
