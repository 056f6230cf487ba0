"""training.curve_compare reads a curve back off a training.plots picture to about a pixel."""

from __future__ import annotations

import json
import math

import pytest

from training.curve_compare import at, read_png_curve, run_curve
from training.plots import plot_curves


def test_a_plotted_curve_reads_back_within_a_pixel(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    rows = []
    for step in range(20, 8601, 20):
        sdf = 0.08 * math.exp(-step / 1500) + 0.02
        rows.append({"kind": "train", "step": step, "time": step, "lr": 1e-4,
                     "loss": 2.5 * math.exp(-step / 3000) + 0.3, "sdf": sdf, "slice": 0.05})
    (run / "log.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    plot_curves(run / "log.jsonl", run / "loss.png")  # y axis 1e-2 .. 1e0.5, as the record's
    read = read_png_curve(run / "loss.png", "train/sdf", 8600, (-2.0, 0.5), until=8600)
    truth = run_curve(run, "train/sdf")  # smoothed as the plot smooths it
    assert len(read) > 700
    for step in (100, 500, 1000, 3000, 8000):
        assert at(read, step) == pytest.approx(at(truth, step), rel=0.03), step
    loss_less_sign = run_curve(run, "train/loss-sign", smooth=False)
    assert loss_less_sign[0][1] == pytest.approx(rows[0]["loss"])
