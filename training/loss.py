"""The training objective (docs/MODEL.md section 2) and the validation loss.

Loss = w_sdf x L1 of the clamped SDF + w_sign x BCE(sigmoid(-sdf / sign_temp), inside)
+ w_bbox x L1(bbox) + w_slice x L1(slices) + w_slice_dice x soft Dice of the slice alpha.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from backend.model import Slice3DCompact
from training.dataset import ShardSet, make_batch


def compute_loss(model: Slice3DCompact, batch: dict, cfg: dict, autocast) -> dict:
    with autocast():  # the image network only: point features and the SDF stay float32
        feats = model.encode(batch["image"])
    pred = model.query(feats, batch["points"], sampling=cfg["feature_sampling"])
    c = cfg["sdf_clamp"]
    l_sdf = (pred.clamp(-c, c) - batch["sdf"].clamp(-c, c)).abs().mean()
    l_bbox = (feats["bbox"].float() - batch["bbox"]).abs().mean()
    total = cfg["w_sdf"] * l_sdf + cfg["w_bbox"] * l_bbox
    out = {"sdf": l_sdf, "bbox": l_bbox}
    if cfg.get("w_sign", 0) > 0:
        inside = (batch["sdf"] < 0).float()
        l_sign = F.binary_cross_entropy_with_logits(-pred / cfg["sign_temp"], inside)
        total = total + cfg["w_sign"] * l_sign
        out["sign"] = l_sign
    if "slices" in feats:
        l_slice = (feats["slices"].float() - batch["slices"]).abs().mean()
        total = total + cfg["w_slice"] * l_slice
        out["slice"] = l_slice
        if cfg.get("w_slice_dice", 0) > 0:
            l_dice = slice_alpha_dice(feats["slices"].float(), batch["slices"])
            total = total + cfg["w_slice_dice"] * l_dice
            out["dice"] = l_dice
    with torch.no_grad():
        out["sign_acc"] = ((pred > 0) == (batch["sdf"] > 0)).float().mean()
    out["loss"] = total
    return out


def slice_alpha_dice(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - soft Dice of each slice's alpha ([B,24,s,s], alpha every second channel), averaged.

    Dice is normalised by the slice's own area, so a thin X or Y strip weighs as much as a
    full Z slice; an empty target slice is scored on how empty the prediction stays.
    """
    p, t = pred[:, 1::2].flatten(2), target[:, 1::2].flatten(2)
    inter = (p * t).sum(-1)
    dice = (2 * inter + 1.0) / (p.sum(-1) + t.sum(-1) + 1.0)
    return 1.0 - dice.mean()


@torch.no_grad()
def evaluate_val(model, val: ShardSet, cfg: dict, device, autocast) -> dict[str, float]:
    model.eval()
    rng = np.random.default_rng(12345)
    sums: dict[str, float] = {}
    n = min(len(val), cfg["val_samples"])
    bs = cfg["batch_size"]
    for i in range(0, n, bs):
        idx = np.arange(i, min(n, i + bs))
        out = compute_loss(model, make_batch(val, idx, 1024, rng, device), cfg, autocast)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
    model.train()
    return {k: v / n for k, v in sums.items()}
