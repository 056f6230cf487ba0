"""training.loss: one step lowers it, it reads features with the configured sampling, and the
slice-alpha Dice by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from slice3d_tiny import TINY, tiny_cfg

from backend.model import ModelConfig, Slice3DCompact
from training.config import DEFAULTS
from training.dataset import load_split, make_batch
from training.loss import compute_loss, slice_alpha_dice
from training.train import make_autocast


@pytest.mark.parametrize(("slices", "encoder"),
                         [(True, "unet"), (False, "unet"), (True, "mobilenetv2")])
def test_one_step_lowers_the_loss(tiny_data, slices, encoder):
    torch.manual_seed(0)
    cfg = tiny_cfg()
    data = load_split(tiny_data, "train", verbose=False)
    model = Slice3DCompact(ModelConfig.from_dict({**TINY, "slices": slices, "encoder": encoder}))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = make_batch(data, np.arange(4), 128, np.random.default_rng(0), torch.device("cpu"))
    ac = make_autocast("none", torch.device("cpu"))
    before = compute_loss(model, batch, cfg, ac)
    assert ("slice" in before) == slices
    opt.zero_grad()
    before["loss"].backward()
    opt.step()
    after = compute_loss(model, batch, cfg, ac)
    assert float(after["loss"].detach()) < float(before["loss"].detach())


def test_the_loss_reads_point_features_with_the_configured_sampling(tiny_data):
    torch.manual_seed(0)
    data = load_split(tiny_data, "train", verbose=False)
    model = Slice3DCompact(ModelConfig.from_dict(TINY)).eval()
    batch = make_batch(data, np.arange(4), 128, np.random.default_rng(0), torch.device("cpu"))
    ac = make_autocast("none", torch.device("cpu"))
    c = DEFAULTS["sdf_clamp"]
    with torch.no_grad():
        feats = model.encode(batch["image"])
        preds = {}
        for sampling in ("bilinear", "bicubic"):
            loss = compute_loss(model, batch, tiny_cfg(feature_sampling=sampling), ac)["sdf"]
            preds[sampling] = model.query(feats, batch["points"], sampling=sampling).clamp(-c, c)
            by_hand = (preds[sampling] - batch["sdf"].clamp(-c, c)).abs().mean()
            assert float(loss) == pytest.approx(float(by_hand), rel=1e-6)
    assert float((preds["bicubic"] - preds["bilinear"]).abs().max()) > 1e-4


def test_slice_alpha_dice_hand_computed():
    target = torch.zeros(1, 24, 4, 4)
    target[0, 1, :2, :2] = 1.0  # slice 1 alpha: 4 pixels
    assert slice_alpha_dice(target, target).item() == pytest.approx(0.0, abs=1e-6)
    empty = torch.zeros_like(target)
    # slice 1 scores (0 + 1) / (0 + 4 + 1) = 0.2, the 11 empty slices score 1
    assert slice_alpha_dice(empty, target).item() == pytest.approx(1 - (0.2 + 11) / 12)
    grey_only = target.clone()
    grey_only[0, 0] = 1.0  # grey channels do not count
    assert slice_alpha_dice(grey_only, target).item() == pytest.approx(0.0, abs=1e-6)
