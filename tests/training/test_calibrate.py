"""training.calibrate: inference settings chosen on a validation split, written into the weights."""

from __future__ import annotations

import argparse
import json

import pytest
import torch
from slice3d_tiny import make_tiny_dataset

from backend.model import ModelConfig, Slice3DCompact, read_metadata, save_weights
from backend.predictors.network import InferenceSettings, NetworkPredictor
from training import calibrate as C

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cal")
    data = make_tiny_dataset(root / "d", n_train=1, n_val=2, n_test=1)
    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict(TINY))  # untrained: the mechanics, not the gain
    return data, save_weights(model, root / "w.safetensors", dtype=torch.float32)


def test_writes_the_best_setting_into_a_copy_of_the_weights(setup, tmp_path):
    data, weights = setup
    out = tmp_path / "cal.safetensors"
    # 16 settings, the plain network among them: every setting is a prediction and a mesh per
    # sample, so one axis (the offset) stays at one value
    C.main(["--weights", str(weights), "--data", str(data), "--per-source", "2",
            "--offsets", "0", "--depth-clips", "off", "0.1", "--samplings", "bicubic",
            "bilinear", "--fills", "off", "0.02", "--resolution", "32", "--threads", "1",
            "--out", str(out)])
    meta = read_metadata(out)
    chosen = InferenceSettings.from_metadata(meta)
    info = json.loads(meta["slice3d_info"])["calibration"]
    assert info["split"] == "val" and info["samples"] == 2
    assert info["chamfer_after"] <= info["chamfer_before"]
    assert NetworkPredictor(torch.device("cpu"), out).settings == chosen
    assert read_metadata(weights).get("slice3d_inference") is None  # the source is untouched


def test_no_before_score_when_the_grid_leaves_out_the_plain_network(setup, tmp_path):
    data, weights = setup
    out = tmp_path / "cal.safetensors"
    C.main(["--weights", str(weights), "--data", str(data), "--per-source", "1",
            "--offsets", "0", "--depth-clips", "0.1", "--resolution", "32",
            "--threads", "1", "--out", str(out)])
    info = json.loads(read_metadata(out)["slice3d_info"])["calibration"]
    assert info["chamfer_before"] is None and info["chamfer_after"] > 0


def test_refuses_the_test_split(setup, tmp_path):
    data, weights = setup
    with pytest.raises(SystemExit) as e:
        C.main(["--weights", str(weights), "--data", str(data), "--split", "test",
                "--out", str(tmp_path / "x.safetensors")])
    assert e.value.code == 2


def test_depth_clip_values_are_off_or_a_widening():
    assert C.depth_clip("off") is None and C.depth_clip("0.1") == 0.1
    with pytest.raises(argparse.ArgumentTypeError, match="below 0"):
        C.depth_clip("-0.1")


def test_fill_values_are_off_or_a_thickness():
    assert C.silhouette_fill("off") is None and C.silhouette_fill("0.02") == 0.02
    with pytest.raises(argparse.ArgumentTypeError, match="half-thickness above 0"):
        C.silhouette_fill("0")
