"""training.evaluate end to end on tiny shards: the baseline beside a (random) network."""

from __future__ import annotations

import json

import torch
from slice3d_tiny import make_tiny_dataset

from backend.model import ModelConfig, Slice3DCompact, save_weights
from training import evaluate as E

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def test_evaluate_smoke(tmp_path):
    data = make_tiny_dataset(tmp_path / "d", n_train=1, n_val=1, n_test=2)
    torch.manual_seed(0)
    w = save_weights(Slice3DCompact(ModelConfig.from_dict(TINY)), tmp_path / "w.safetensors")
    out = tmp_path / "eval"
    E.main(
        [
            "--data",
            str(data),
            "--model",
            f"net={w}",
            "--per-source",
            "2",
            "--resolution",
            "32",
            "--out",
            str(out),
            "--no-photos",
            "--sheet-rows",
            "2",
        ]
    )
    report = json.loads((out / "results.json").read_text())
    assert report["samples"] == 2
    base = report["summary"]["all"]["baseline"]
    # the silhouette baseline of a sphere is a decent sphere
    assert base["norm/f@0.05"] > 0.5
    assert set(report["summary"]["all"]) >= {"n", "net", "baseline"}
    # the slab's depth is a guess, so its median depth ratio is some positive number, not 1
    assert 0.0 < base["depth_ratio_median"] < 10.0
    assert "Median depth ratio" in (out / "results.md").read_text()
    # normal consistency per sample and in the summary: a mean |cosine|, so within [0, 1]
    assert 0.0 < base["norm/normal_consistency"] <= 1.0
    sample = report["results"][0]["metrics"]["baseline"]
    assert 0.0 < sample["normal_consistency"] <= 1.0
    assert "| NC |" in (out / "results.md").read_text()
    assert (out / "sheet_test.png").is_file() and (out / "results.md").is_file()
