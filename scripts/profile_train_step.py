"""Where a training step's time goes on this machine: batch assembly on the CPU (with and without
the photometric augmentation) and the GPU step, with bilinear and bicubic feature reads.

Random tensors of the training shapes stand in for data, so no data set has to travel.

    python scripts/profile_train_step.py \
        --config training/configs/experiments/gpu_slice_scratch.json
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
from training.train import (  # noqa: E402
    ShardSet,
    compute_loss,
    load_config,
    make_autocast,
    make_batch,
    pick_device,
)


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
    args = ap.parse_args(argv)
    cfg = load_config(args.config)
    device = pick_device(cfg["device"])
    torch.set_num_threads(int(cfg["threads"]))
    torch.backends.cudnn.benchmark = True
    data = fake_set(4 * cfg["batch_size"], cfg["points_per_shape"])
    bs, pts = cfg["batch_size"], cfg["points_per_shape"]
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    out: dict = {"device": str(device), "batch": bs, "points": pts}
    rng = np.random.default_rng(0)
    for aug in (0.0, 1.0):
        t0 = time.perf_counter()
        for _ in range(args.steps):
            make_batch(data, np.arange(bs), pts, rng, device, aug)
        sync()
        ms = 1000 * (time.perf_counter() - t0) / args.steps
        out[f"make_batch_ms_augment{aug:g}"] = round(ms, 1)
    autocast = make_autocast(cfg["autocast"], device)
    for slices in (True, False):
        model = Slice3DCompact(ModelConfig.from_dict({**cfg["model"], "slices": slices})).to(device)
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
            key = f"gpu_step_ms_{'slices' if slices else 'noslice'}_{sampling}"
            out[key] = round(1000 * (time.perf_counter() - t0) / args.steps, 1)
    print(json.dumps(out, indent=1), flush=True)


if __name__ == "__main__":
    main()
