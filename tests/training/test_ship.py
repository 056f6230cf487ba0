"""training.ship: a calibrated fine-tune written over the shipped file with its whole history."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from backend.model import ModelConfig, Slice3DCompact, load_weights, read_metadata, save_weights
from backend.predictors.network import InferenceSettings, NetworkPredictor
from training.ship import main, ship

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}
HISTORY = {"hours": 8.44, "run": "phases A-K", "samples_seen": 1000, "steps": 500,
           "averaged_steps": [400, 500], "hardware": "2-core CPU"}
PHASE = {"step": 120, "hours": 0.5, "run": "slice3d_l", "samples_seen": 240,
         "averaged_steps": [60, 120], "calibration": {"split": "val", "samples": 3}}
SETTINGS = InferenceSettings(flip_average=True, depth_clip=0.1, silhouette_fill=0.04)


def tiny(seed: int) -> Slice3DCompact:
    torch.manual_seed(seed)
    return Slice3DCompact(ModelConfig.from_dict(TINY)).eval()


def assert_refused_and_untouched(candidate, shipped, match: str) -> None:
    before = shipped.read_bytes()
    with pytest.raises(ValueError, match=match):
        ship(candidate, "then phase L", onto=shipped)
    assert shipped.read_bytes() == before


@pytest.fixture
def files(tmp_path):
    shipped = save_weights(tiny(0), tmp_path / "shipped.safetensors", info=HISTORY,
                           metadata=InferenceSettings().to_metadata())
    candidate = save_weights(tiny(1), tmp_path / "cand.safetensors", dtype=torch.float32,
                             info=PHASE, metadata=SETTINGS.to_metadata())
    return shipped, candidate


def test_the_history_adds_the_new_phase_and_keeps_its_settings(files):
    shipped, candidate = files
    info = ship(candidate, "then phase L (120 steps)", onto=shipped)
    assert info["hours"] == 8.94 and info["steps"] == 620 and info["samples_seen"] == 1240
    assert info["run"] == "phases A-K; then phase L (120 steps)"
    assert info["averaged_steps"] == [60, 120] and info["calibration"]["samples"] == 3
    assert info["hardware"] == "2-core CPU"
    meta = read_metadata(shipped)
    assert json.loads(meta["slice3d_info"]) == info
    assert NetworkPredictor(torch.device("cpu"), shipped).settings == SETTINGS
    with safe_open(str(shipped), framework="pt") as f:
        assert f.get_tensor("sdf_head.weight").dtype == torch.float16
    got, want = load_weights(shipped).state_dict(), tiny(1).state_dict()
    for k in want:
        torch.testing.assert_close(got[k], want[k].half().float())


def test_shipping_the_same_candidate_twice_is_refused(files):
    shipped, candidate = files
    ship(candidate, "then phase L", onto=shipped)
    assert_refused_and_untouched(candidate, shipped, "already shipped")


def test_an_uncalibrated_candidate_is_refused_and_nothing_is_written(files, tmp_path):
    shipped, _ = files
    raw = save_weights(tiny(2), tmp_path / "raw.safetensors", info=PHASE)
    assert_refused_and_untouched(raw, shipped, "run training.calibrate first")


def test_a_candidate_without_a_phase_record_is_refused(files, tmp_path):
    shipped, _ = files
    bare = save_weights(tiny(2), tmp_path / "bare.safetensors", info={"note": "x"},
                        metadata=SETTINGS.to_metadata())
    assert_refused_and_untouched(bare, shipped, r"lacks \['hours', 'samples_seen', 'step'\]")


def test_command_line_reports_errors_without_a_traceback(files, tmp_path, capsys):
    shipped, candidate = files
    with pytest.raises(SystemExit, match="error: .*no_such"):
        main(["--candidate", str(tmp_path / "no_such"), "--describe", "x", "--onto", str(shipped)])
    with pytest.raises(SystemExit, match="must say what the new phase did"):
        main(["--candidate", str(candidate), "--describe", " ", "--onto", str(shipped)])
    main(["--candidate", str(candidate), "--describe", "then L", "--onto", str(shipped),
          "--hardware", "H100"])
    assert "620 steps, 8.94 h in all" in capsys.readouterr().out
    assert json.loads(read_metadata(shipped)["slice3d_info"])["hardware"] == "H100"
