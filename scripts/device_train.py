"""Train several configs at once on one lent GPU to a shared deadline; leave the results in --out.

A lease is minutes long and one GPU is shared by the runs, so each run first times a few steps
beside the others, then sets its ``max_steps`` so that its cosine schedule ends by the deadline.
Runs named in ``--same-steps`` take the smallest of their step counts: an ablation then compares
equal budgets (same steps, same samples seen). Each run's snapshots from 60% of its steps on are
averaged (``training.average_weights``); the mean and the loss log are what come back.

    python scripts/device_train.py --minutes 7 --out "$OUT" \\
        --same-steps gpu_slice_scratch,gpu_noslice_scratch \\
        training/configs/experiments/gpu_slice_scratch.json ...
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SMOKE_STEPS = 40  # timed beside the other runs; the first 10 (CUDA warm-up) are not counted


def wait_for_all(sync: Path, stage: str, names: list[str], timeout: float = 180.0) -> dict:
    """A barrier through files: return each run's record of ``stage`` once all have written it."""
    t0 = time.time()
    while True:
        found = {n: sync / f"{stage}_{n}.json" for n in names}
        if all(p.exists() for p in found.values()):
            return {n: json.loads(p.read_text()) for n, p in found.items()}
        if time.time() - t0 > timeout:
            missing = [n for n, p in found.items() if not p.exists()]
            raise TimeoutError(f"runs {missing} did not reach {stage!r} in {timeout:.0f}s")
        time.sleep(0.5)


def seconds_per_step(log: Path) -> float:
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    rows = [r for r in rows if r.get("kind") == "train"]
    first, last = rows[0], rows[-1]
    return (last["time"] - first["time"]) / max(1, last["step"] - first["step"])


def run_one(cfg_path: str, deadline: float, root: str, names: list[str],
            same: list[str], finish_s: float) -> None:
    import torch

    from backend.model import ModelConfig
    from training.config import load_config
    from training.dataset import read_split
    from training.train import train

    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    root_dir, sync = Path(root), Path(root) / "sync"
    cfg = load_config(cfg_path)
    name = cfg["name"]
    data = REPO / cfg["data"][0]
    size = ModelConfig.from_dict(cfg["model"]).input_size
    train_data = read_split(data, "train", size)
    val_data = read_split(data, "val", size, cfg["val_samples"])
    (sync / f"loaded_{name}.json").write_text("{}")
    wait_for_all(sync, "loaded", names)

    smoke = dict(cfg, name=f"{name}_smoke", max_steps=SMOKE_STEPS, log_every=10,
                 eval_every=10**9, ckpt_minutes=1e9, snapshot_from=0)
    train(smoke, run_root=root_dir, mirror_root=None, train_data=train_data, val_data=None)
    sps = seconds_per_step(root_dir / smoke["name"] / "log.jsonl")
    (sync / f"timed_{name}.json").write_text(json.dumps({"sec_per_step": sps,
                                                          "at": time.time()}))
    timed = wait_for_all(sync, "timed", names)

    # from the last run's timing, so that every run computes the same budget
    remaining = deadline - max(t["at"] for t in timed.values()) - finish_s
    slowest = max(timed[n]["sec_per_step"] for n in same) if name in same else sps
    # the smoke times steps alone; validation, checkpoints and the shared CPU add the rest:
    # on the H200 (session 15) 1410 steps took 429 s of wall clock against 190 ms of step time
    steps = int(0.6 * remaining / slowest)
    if steps < 1:
        raise SystemExit(f"error: [{name}] no time left to train after loading and timing "
                         f"({remaining:.0f} s): give --minutes more")
    cfg.update(max_steps=steps, snapshot_from=int(0.6 * steps), eval_every=max(100, steps // 8))
    print(f"[{name}] {sps * 1000:.1f} ms/step beside the others; {steps} steps in "
          f"{remaining:.0f}s", flush=True)
    train(cfg, hours=remaining / 3600, run_root=root_dir, mirror_root=None,
          train_data=train_data, val_data=val_data)


def collect(run_dir: Path, out: Path) -> None:
    from training.average_weights import average_weights

    name = run_dir.name
    snaps = sorted((run_dir / "snapshots").glob("*.safetensors"))
    if len(snaps) >= 2:
        info = average_weights(snaps, out / f"{name}_avg.safetensors")
        print(f"[{name}] averaged steps {info['averaged_steps']}", flush=True)
    else:
        shutil.copyfile(run_dir / "model.safetensors", out / f"{name}_last.safetensors")
        print(f"[{name}] {len(snaps)} snapshot(s): the last weights come back", flush=True)
    shutil.copyfile(run_dir / "log.jsonl", out / f"{name}_log.jsonl")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--minutes", type=float, required=True, help="from start to weights in --out")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--same-steps", default="", help="run names, comma-separated")
    ap.add_argument("--root", type=Path, default=Path("/tmp/device_runs"))
    ap.add_argument("--finish-seconds", type=float, default=30.0,
                    help="kept for the last validation, checkpoint and averaging")
    args = ap.parse_args(argv)
    deadline = time.time() + args.minutes * 60
    same = [n for n in args.same_steps.split(",") if n]
    from training.config import load_config

    names = [load_config(c)["name"] for c in args.configs]  # a name may come from a parent
    shutil.rmtree(args.root, ignore_errors=True)
    (args.root / "sync").mkdir(parents=True)
    args.out.mkdir(parents=True, exist_ok=True)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=run_one, args=(c, deadline, str(args.root), names,
                                                 same, args.finish_seconds)) for c in args.configs]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = [name for name, p in zip(names, procs, strict=True) if p.exitcode != 0]
    for name in names:
        if name not in failed:
            collect(args.root / name, args.out)
    if failed:  # what finished still comes back; the exit status says that not all did
        raise SystemExit(f"error: runs {failed} failed (their tracebacks are above)")


if __name__ == "__main__":
    main()
