"""training.ship: a calibrated fine-tune written over the shipped file with its whole history."""

from __future__ import annotations

import json

import numpy as np
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


# ------------------------------------------------------------------- an extension phase
def with_fusion(base: Slice3DCompact, gate: float) -> Slice3DCompact:
    """``base``'s network plus a view fusion whose gate is ``gate`` (what a fusion-only run
    leaves: every tensor of ``base`` unchanged, nine new ones)."""
    torch.manual_seed(5)
    model = Slice3DCompact(ModelConfig.from_dict({**TINY, "view_fusion": "meanmax"})).eval()
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("view_fusion.") for k in missing)
    with torch.no_grad():
        model.view_fusion.gate.fill_(gate)
    return model


@pytest.fixture
def extension(tmp_path):
    """The shipped tiny network (fp16, calibrated settings) and a fusion-only phase on top."""
    shipped = save_weights(tiny(0), tmp_path / "shipped.safetensors", info=HISTORY | {
        "calibration": {"split": "val", "samples": 90}}, metadata=SETTINGS.to_metadata())
    phase = {"step": 551, "hours": 0.34, "run": "multiview/meanmax", "samples_seen": 8816}
    candidate = save_weights(with_fusion(load_weights(shipped), 0.3),
                             tmp_path / "fusion.safetensors", dtype=torch.float32, info=phase)
    return shipped, candidate


def photo() -> np.ndarray:
    rng = np.random.default_rng(0)
    im = np.ones((128, 128, 4), np.float32)
    im[30:100, 40:90, :3] = rng.uniform(0, 1, (70, 50, 3))
    im[..., 3] = 0.0
    im[30:100, 40:90, 3] = 1.0
    return im


def test_an_extension_keeps_the_shipped_settings_and_answers_one_photo_bit_for_bit(extension):
    shipped, candidate = extension
    before = NetworkPredictor(torch.device("cpu"), shipped)
    pts = torch.rand(900, 3, generator=torch.Generator().manual_seed(1)) - 0.5
    one_before = before.predict(photo()).sdf(pts)
    info = ship(candidate, "then the view fusion alone (551 steps)", onto=shipped)
    assert info["steps"] == 1051 and info["hours"] == 8.78
    # the frozen network's record stays: its checkpoint mean and its calibration
    assert info["averaged_steps"] == [400, 500] and info["calibration"]["samples"] == 90
    after = NetworkPredictor(torch.device("cpu"), shipped)
    assert after.settings == SETTINGS and after.fuses_features
    assert torch.equal(after.predict(photo()).sdf(pts), one_before)
    assert torch.equal(after.predict_views([photo()], [np.eye(4)]).sdf(pts), one_before)


def test_an_extension_with_other_settings_or_changed_tensors_is_refused(extension, tmp_path):
    shipped, candidate = extension
    model = load_weights(candidate)
    info = json.loads(read_metadata(candidate)["slice3d_info"])
    other = save_weights(model, tmp_path / "other.safetensors", dtype=torch.float32, info=info,
                         metadata=InferenceSettings().to_metadata())
    assert_refused_and_untouched(other, shipped, "cannot have chosen other inference settings")
    with torch.no_grad():
        model.sdf_head.bias.add_(0.01)  # no longer an extension: a new phase, uncalibrated
    moved = save_weights(model, tmp_path / "moved.safetensors", dtype=torch.float32, info=info)
    assert_refused_and_untouched(moved, shipped, "run training.calibrate first")
