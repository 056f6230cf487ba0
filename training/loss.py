"""The training objective (docs/MODEL.md section 2) and the validation loss.

Loss = w_sdf x L1 of the clamped SDF + w_sign x BCE(sigmoid(-sdf / sign_temp), inside)
+ w_bbox x L1(bbox) + w_slice x L1(slices) + w_slice_dice x soft Dice of the slice alpha.

With extra views in the batch (``views_image``) the SDF is the view-fused one; with
``train_only_fusion`` the images are encoded without gradients, since only the fusion learns.

With ``train_only_colour`` the loss is the colour head's alone (``colour_loss``): the mean L1 of
sRGB colour over the batch's known points (``make_batch``'s ``colour_band``), the frozen network
run without gradients up to the head.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

from backend.model import Slice3DCompact
from backend.model.colour_head import object_colour
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
        if "views_index" not in batch:
            return feats, None
        extra = cache.encode(batch["views_image"], batch["views_index"])
        return feats, ExtraViews(extra, batch["views_transform"], batch["views_present"])
    only_part = cfg.get("train_only_fusion") or cfg.get("train_only_colour")
    frozen = torch.no_grad() if only_part else contextlib.nullcontext()
    with autocast(), frozen:  # the image network only: point features and the SDF stay float32
        feats = model.encode(batch["image"])
        views = None
        if "views_image" in batch:
            views = ExtraViews(model.encode(batch["views_image"]), batch["views_transform"],
                               batch["views_present"])
    return feats, views


def colour_loss(model: Slice3DCompact, batch: dict, cfg: dict, autocast,
                cache: FrozenEncodings | None = None) -> dict:
    """L1 of the colour head's sRGB against the known colours (``colour``, ``colour_known``),
    and, for scale, ``colour_photo``: the same L1 of the input's colour at each point's
    projection (what copying the photo along the view axis would give)."""
    feats, _ = encode_batch(model, batch, cfg, autocast, cache)
    with torch.no_grad():
        hidden, img, rel = model.decode_points(feats, batch["points"], None,
                                               cfg["feature_sampling"], None)
    pred = model.colour_from(hidden, img, rel, object_colour(feats["image"].float()))
    known = batch["colour_known"]
    count = known.sum().clamp_min(1.0)
    target = batch["colour"]
    l_colour = ((pred - target).abs().mean(-1) * known).sum() / count
    with torch.no_grad():
        photo = img[..., :3].float()
        l_photo = ((photo - target).abs().mean(-1) * known).sum() / count
    return {"colour": l_colour, "colour_photo": l_photo, "known": known.mean(), "loss": l_colour}


def compute_loss(model: Slice3DCompact, batch: dict, cfg: dict, autocast,
                 cache: FrozenEncodings | None = None) -> dict:
    if cfg.get("train_only_colour"):
        return colour_loss(model, batch, cfg, autocast, cache)
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
        band = cfg["colour_band"] if cfg.get("train_only_colour") else 0.0
        batch = make_batch(val, idx, 1024, rng, device, views=tuple(cfg.get("views", (1, 1))),
                           colour_band=band)
        out = compute_loss(model, batch, cfg, autocast)
        for k, v in out.items():
            sums[k] = sums.get(k, 0.0) + float(v) * len(idx)
    model.train()
    return {k: v / n for k, v in sums.items()}
