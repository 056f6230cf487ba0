"""How much the SDF leans on the slices: one network's point decoder, the same points, four inputs.

* ``own``: the slices and box the network predicts (what inference does);
* ``true_box``: its own slices, with the true view-frame box (so the slabs sit where they should);
* ``true``: the true slices and the true box, the ceiling a perfect slice head would give;
* ``other``: its own box, with the slices it predicted for another image of the batch.

If ``true`` lowers the SDF error a lot, the decoder reads the slices and better slice prediction is
where the gain lies; if ``other`` barely raises it, the decoder ignores them. Nothing is trained.

    python -m training.oracle_slices --weights backend/weights/slice3d_compact.safetensors \\
        --data data/v1 --split val
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from backend.model import load_weights
from backend.model.network import SAMPLINGS
from training.dataset import ShardSet, load_split, make_batch

VARIANTS = ("own", "true_box", "true", "other")
NEAR = 0.02  # "near the surface": the band where the sign decides the mesh


@torch.no_grad()
def variant_sdf(model, encoded: dict, batch: dict, variant: str, sampling: str) -> torch.Tensor:
    """The predicted SDF at ``batch['points']`` with the slices and box ``variant`` names;
    ``encoded`` is ``model.encode(batch['image'])``, computed once for every variant."""
    feats = dict(encoded)
    box = None
    if variant in ("true_box", "true"):
        box = batch["bbox"]
    if variant == "true":
        feats["slices"] = batch["slices"]
    elif variant == "other":
        feats["slices"] = feats["slices"].roll(1, dims=0)
    return model.query(feats, batch["points"], bbox=box, sampling=sampling)


def point_errors(pred: torch.Tensor, sdf: torch.Tensor, clamp: float) -> dict[str, np.ndarray]:
    """Per sample: clamped SDF L1, sign accuracy, and sign accuracy near the surface."""
    l1 = (pred.clamp(-clamp, clamp) - sdf.clamp(-clamp, clamp)).abs().mean(1)
    right = ((pred > 0) == (sdf > 0)).float()
    near = (sdf.abs() < NEAR).float()
    near_acc = (right * near).sum(1) / near.sum(1).clamp_min(1.0)
    return {"sdf_l1": l1.numpy(), "sign_acc": right.mean(1).numpy(),
            "near_sign_acc": near_acc.numpy()}


def oracle_table(model, data: ShardSet, n_points: int = 2048, batch_size: int = 8,
                 sampling: str = "bicubic", clamp: float = 0.1, seed: int = 0) -> dict:
    """Mean of every error for every variant, overall and per source, on the same points."""
    if model.slice_head is None:
        raise ValueError("this network has no slice branch (the no-slice ablation)")
    if len(data) < 2:
        raise ValueError("need at least two samples (the 'other' variant swaps within a batch)")
    rng = np.random.default_rng(seed)
    rows: dict[str, dict[str, list]] = {v: {} for v in VARIANTS}
    n_batches = -(-len(data) // batch_size)
    for idx in np.array_split(np.arange(len(data)), n_batches):  # never a batch of one
        batch = make_batch(data, idx, n_points, rng, torch.device("cpu"))
        encoded = model.encode(batch["image"])
        for v in VARIANTS:
            pred = variant_sdf(model, encoded, batch, v, sampling)
            errs = point_errors(pred, batch["sdf"], clamp)
            for k, arr in errs.items():
                rows[v].setdefault(k, []).append(arr)
    sources = data.source
    out: dict = {"points": n_points, "variants": {}}
    for v in VARIANTS:
        cols = {k: np.concatenate(a) for k, a in rows[v].items()}
        out["samples"] = len(cols["sdf_l1"])
        res = {k: float(a.mean()) for k, a in cols.items()}
        res["by_source"] = {
            s: {k: float(a[sources == s].mean()) for k, a in cols.items()}
            for s in sorted(set(sources.tolist()))
        }
        out["variants"][v] = res
    return out


def format_table(result: dict) -> str:
    lines = ["| slices fed to the decoder | SDF L1 | sign accuracy | near-surface sign accuracy |",
             "|---|---|---|---|"]
    for v, r in result["variants"].items():
        lines.append(
            f"| {v} | {r['sdf_l1']:.5f} | {r['sign_acc']:.4f} | {r['near_sign_acc']:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--split", default="val")
    ap.add_argument("--limit", type=int, default=0, help="samples at most (0: the whole split)")
    ap.add_argument("--points", type=int, default=2048)
    ap.add_argument("--sampling", default="bicubic", choices=SAMPLINGS)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None, help="also write the result here")
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    model = load_weights(a.weights).eval()
    data = load_split(a.data, a.split, model.config.input_size, limit=a.limit, verbose=False)
    if a.limit:
        data = ShardSet(**{k: getattr(data, k)[: a.limit] for k in ShardSet.__dataclass_fields__})
    try:
        result = oracle_table(model, data, a.points, sampling=a.sampling)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(format_table(result))
    print(f"({result['samples']} samples of {a.data} {a.split}, {a.points} points each)")
    if a.json:
        a.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
