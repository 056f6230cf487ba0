"""Where a training step's time goes on this machine: batch assembly on the CPU (with and without
the photometric augmentation) and the step (forward, backward, Adam) on the config's device, with
bilinear and bicubic feature reads, under each autocast kind asked for.

Random tensors of the training shapes stand in for data, so no data set has to travel. Whether
bfloat16 autocast pays on a CPU depends on the CPU (without native bf16 it is several times
slower), so measure it on the machine that trains:

    python scripts/profile_train_step.py \
        --config training/configs/experiments/gpu_slice_scratch.json
    python scripts/profile_train_step.py --config training/configs/slice3d_compact.json \
        --autocasts none bf16 --steps 3 --points 2048 --slices-only
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.model import ModelConfig, Slice3DCompact  # noqa: E402
from training.config import load_config  # noqa: E402
from training.dataset import ShardSet, make_batch  # noqa: E402
from training.loss import compute_loss  # noqa: E402
from training.train import make_autocast, pick_device  # noqa: E402


def fake_set(n: int, points: int, size: int = 128) -> ShardSet:
    rng = np.random.default_rng(0)
    return ShardSet(
        image=rng.integers(0, 256, (n, size, size, 4), dtype=np.uint8),
        slices=rng.integers(0, 256, (n, 12, 2, size // 2, size // 2), dtype=np.uint8),
        points=rng.uniform(-1, 1, (n, points, 3)).astype(np.float16),
        sdf=rng.uniform(-0.3, 0.3, (n, points)).astype(np.float16),
        bbox=rng.uniform(-1, 1, (n, 2, 3)).astype(np.float32),
        shape_id=np.array([f"s{i}" for i in range(n)]), source=np.array(["fake"] * n),
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--autocasts", nargs="+", choices=["none", "bf16", "fp16"],
                    help="autocast kinds to time (default: the config's)")
    ap.add_argument("--points", type=int, default=0,
                    help="points per shape (default: the config's)")
    ap.add_argument("--slices-only", action="store_true", help="skip the no-slice network")
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    if args.points:
        cfg["points_per_shape"] = args.points
    device = pick_device(cfg["device"])
    torch.set_num_threads(int(cfg["threads"]))
    torch.backends.cudnn.benchmark = True
    data = fake_set(4 * cfg["batch_size"], cfg["points_per_shape"])
    bs, pts = cfg["batch_size"], cfg["points_per_shape"]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    out: dict = {"device": str(device), "threads": int(cfg["threads"]), "batch": bs, "points": pts}
    rng = np.random.default_rng(0)
    for aug in (0.0, 1.0):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            make_batch(data, np.arange(bs), pts, rng, device, aug)
        sync()
        ms = 1000 * (time.perf_counter() - t0) / args.steps
        out[f"make_batch_ms_augment{aug:g}"] = round(ms, 1)
    for kind in args.autocasts or [cfg["autocast"]]:
        autocast = make_autocast(kind, device)
        for slices in (True,) if args.slices_only else (True, False):
            model_cfg = ModelConfig.from_dict({**cfg["model"], "slices": slices})
            model = Slice3DCompact(model_cfg).to(device)
            opt = torch.optim.Adam(model.parameters(), lr=1e-4)
            batch = make_batch(data, np.arange(bs), pts, rng, device, 0.0)
            for sampling in ("bilinear", "bicubic"):
                run_cfg = dict(cfg, feature_sampling=sampling)
                for i in range(args.steps + 3):  # three warm-up steps
                    if i == 3:
                        sync()
                        t0 = time.perf_counter()
                    loss = compute_loss(model, batch, run_cfg, autocast)["loss"]
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                sync()
                key = f"step_ms_{kind}_{'slices' if slices else 'noslice'}_{sampling}"
                out[key] = round(1000 * (time.perf_counter() - t0) / args.steps, 1)
    print(json.dumps(out, indent=1), flush=True)


if __name__ == "__main__":
    main()
