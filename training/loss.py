"""The training objective (docs/MODEL.md section 2) and the validation loss.

Loss = w_sdf x L1 of the clamped SDF + w_sign x BCE(sigmoid(-sdf / sign_temp), inside)
+ w_bbox x L1(bbox) + w_slice x L1(slices) + w_slice_dice x soft Dice of the slice alpha.

With extra views in the batch (``views_image``) the SDF is the view-fused one; with
``train_only_fusion`` the images are encoded without gradients, since only the fusion learns.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from backend.model import Slice3DCompact
from backend.model.view_fusion import ExtraViews
from training.dataset import ShardSet, make_batch


class FrozenEncodings:
    """The frozen image network's features of each training sample, computed once.

    Training the view fusion alone (``train_only_fusion``, no augmentation) encodes the same
    images step after step with the same weights: each image of a batch and its extra views cost
    a full encoder pass, most of a step on the CPU. Features are rounded to float16 whether
    kept or not, and each image is encoded alone, so a resumed run (its store empty) computes
    exactly what the first part used. About 1.1 MB a sample is kept, up to ``limit`` samples;
    the rest are encoded every time.
    """

    def __init__(self, model: Slice3DCompact, limit: int = 4000) -> None:
        self.model, self.limit = model, limit
        self.store: dict[int, dict[str, torch.Tensor]] = {}

    @torch.no_grad()
    def encode(self, images: torch.Tensor, index: torch.Tensor) -> dict[str, torch.Tensor]:
        keys = [int(i) for i in index]
        missing = [j for j, key in enumerate(keys) if key not in self.store]
        fresh: dict[int, dict[str, torch.Tensor]] = {}
        for j in missing:  # one at a time: a batched convolution's last bits depend on its batch
            feats = self.model.encode(images[j : j + 1])
            fresh[keys[j]] = {k: v[0].half() for k, v in feats.items()}
            if len(self.store) < self.limit:
                self.store[keys[j]] = fresh[keys[j]]
        items = [self.store.get(key) or fresh[key] for key in keys]
        return {k: torch.stack([item[k] for item in items]).float() for k in items[0]}


def encode_batch(model: Slice3DCompact, batch: dict, cfg: dict, autocast,
                 cache: FrozenEncodings | None = None,
                 ) -> tuple[dict[str, torch.Tensor], ExtraViews | None]:
    """The reference images' features and the extra views (None without), through ``cache``
    when there is one (the image network frozen)."""
    if cache is not None and "index" in batch:
        feats = cache.encode(batch["image"], batch["index"])
        extra = cache.encode(batch["views_image"], batch["views_index"])
        return feats, ExtraViews(extra, batch["views_transform"], batch["views_present"])
    frozen = torch.no_grad() if cfg.get("train_only_fusion") else contextlib.nullcontext()
    with autocast(), frozen:  # the image network only: point features and the SDF stay float32
        feats = model.encode(batch["image"])
        views = None
        if "views_image" in batch:
            views = ExtraViews(model.encode(batch["views_image"]), batch["views_transform"],
                               batch["views_present"])
    return feats, views


def compute_loss(model: Slice3DCompact, batch: dict, cfg: dict, autocast,
                 cache: FrozenEncodings | None = None) -> dict:
    feats, views = encode_batch(model, batch, cfg, autocast, cache)
    pred = model.query(feats, batch["points"], sampling=cfg["feature_sampling"], views=views)
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
        batch = make_batch(val, idx, 1024, rng, device, views=tuple(cfg.get("views", (1, 1))))
        out = compute_loss(model, batch, cfg, autocast)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
    model.train()
    return {k: v / n for k, v in sums.items()}
