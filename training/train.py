"""Train Slice3D-compact (nanoGPT-style: one config, a time budget, exact resume).

    python -m training.train --config training/configs/slice3d_compact.json [--hours H] [--resume]
        [--stop-at STEP] [--set KEY=VALUE ...]

The run folder is ``runs/<name>/`` (git-ignored), mirrored to ``$SLICE3D_RUN_MIRROR/<name>/``
when that variable names a folder, so a run can resume on a machine whose checkout was replaced.
It holds ``ckpt.pt`` (model, optimiser, step: training state only; it is never shipped),
``model.safetensors`` (the weights, loadable by the backend), ``log.jsonl`` and ``loss.png``.
Batches are a pure function of (seed, step), so a resumed run sees exactly the batches an
uninterrupted one would have. Data: ``training.dataset``; loss: ``training.loss``; configs:
``training.config``. A run never reads or writes ``backend/weights/``: only
``python -m training.ship`` writes the shipped file.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from training.config import (
    check_colour,
    check_lr_scale,
    check_source_weights,
    check_views,
    load_config,
    parse_overrides,
)
from training.dataset import (
    ShardSet,
    batch_indices,
    concat_sets,
    keep_sources,
    make_batch,
    read_split,
    sampling_order,
    with_colours,
)
from training.loss import FrozenEncodings, compute_loss, evaluate_val
from training.plots import plot_curves

REPO = Path(__file__).resolve().parent.parent
SHIPPED_DIR = REPO / "backend" / "weights"
MIRROR = Path(os.environ["SLICE3D_RUN_MIRROR"]) if os.environ.get("SLICE3D_RUN_MIRROR") else None
RUN_FILES = ("ckpt.pt", "model.safetensors", "log.jsonl", "loss.png", "config.json")


def refuse_shipped(path: str | Path, what: str) -> None:
    """A run's folders and its starting weights stay out of ``backend/weights/``: the shipped file
    changes with every ``training.ship``, so a run that read it would not rerun, and a run that
    wrote there would replace the shipped network without calibration or history."""
    p = Path(path)
    p = (p if p.is_absolute() else REPO / p).resolve()
    if p == SHIPPED_DIR.resolve() or SHIPPED_DIR.resolve() in p.parents:
        raise ValueError(f"{what} {path} is inside backend/weights/: a training run never reads "
                         "or writes the shipped weights (start from a run's output under runs/; "
                         "only `python -m training.ship` writes backend/weights/)")


def lr_at(step: int, cfg: dict) -> float:
    """Linear warm-up, constant until ``decay_from``, then cosine down to ``min_lr_frac``."""
    if step < cfg["warmup_steps"]:
        return cfg["lr"] * (step + 1) / cfg["warmup_steps"]
    start = max(cfg["warmup_steps"], cfg.get("decay_from", 0))
    frac = min(1.0, max(0, step - start) / max(1, cfg["max_steps"] - start))
    lo = cfg["min_lr_frac"]
    return cfg["lr"] * (lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * frac)))


def make_autocast(kind: str, device: torch.device):
    if kind == "bf16" and device.type == "cpu":
        return lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    if kind in ("fp16", "bf16") and device.type == "cuda":
        dt = torch.float16 if kind == "fp16" else torch.bfloat16
        return lambda: torch.autocast("cuda", dtype=dt)
    return contextlib.nullcontext


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def load_data(cfg: dict, input_size: int) -> tuple[ShardSet, ShardSet]:
    """The union of the config's data folders (or packs) for training (only ``train_sources`` when
    it names any), and the val split (every source) of ``val_data``, else of the first folder:
    a set built for training alone (a train split) can be validated on a set built apart."""
    dirs = cfg["data"] if isinstance(cfg["data"], list) else [cfg["data"]]
    dirs = [REPO / d for d in dirs]  # an absolute path stays as it is
    train_data = concat_sets(
        [read_split(d, "train", input_size, cfg["max_train_samples"]) for d in dirs])
    if cfg["train_sources"]:
        train_data = keep_sources(train_data, cfg["train_sources"], {})
    val_dir = REPO / cfg["val_data"] if cfg["val_data"] else dirs[0]
    return train_data, read_split(val_dir, "val", input_size, cfg["val_samples"])


# ---------------------------------------------------------------------------------- run files
def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _mirror(run_dir: Path, mirror_dir: Path | None) -> None:
    if mirror_dir is None:
        return
    try:
        mirror_dir.mkdir(parents=True, exist_ok=True)
        for f in RUN_FILES:
            if (run_dir / f).exists():
                shutil.copy2(run_dir / f, mirror_dir / (f + ".tmp"))
                os.replace(mirror_dir / (f + ".tmp"), mirror_dir / f)
    except OSError as exc:  # a mirror failure must not kill the run
        print(f"warning: mirror to {mirror_dir} failed: {exc}", flush=True)


def _resume(run_dir: Path, mirror_dir: Path | None, model, opt, device) -> tuple[int, float]:
    """Load the run's checkpoint (or its mirror's); the step and the seconds trained so far."""
    src = run_dir / "ckpt.pt"
    if not src.exists() and mirror_dir and (mirror_dir / "ckpt.pt").exists():
        src = mirror_dir / "ckpt.pt"
        if (mirror_dir / "log.jsonl").exists():
            shutil.copy2(mirror_dir / "log.jsonl", run_dir / "log.jsonl")
    if not src.exists():
        print("no checkpoint to resume: starting fresh", flush=True)
        return 0, 0.0
    state = torch.load(src, map_location=device, weights_only=False)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    torch.set_rng_state(state["torch_rng"])
    print(f"resumed {src} at step {state['step']} ({state['elapsed'] / 3600:.2f} h trained)",
          flush=True)
    return state["step"], state["elapsed"]


def _init_fresh(model, cfg: dict) -> None:
    """A fresh run may start from trained weights (``init_weights``) or an ImageNet trunk."""
    if cfg.get("init_weights"):
        from training.warm_start import warm_start

        fresh = warm_start(model, REPO / cfg["init_weights"])
        print(f"initialised from {cfg['init_weights']}; left as built: {fresh}", flush=True)
    if cfg.get("init_encoder"):
        from training.pretrained import init_encoder

        init_encoder(model, REPO / cfg["init_encoder"])
        print(f"encoder initialised from {cfg['init_encoder']}", flush=True)


def _start(run_dir: Path, mirror_dir: Path | None, model, opt, device, cfg: dict,
           resume: bool) -> tuple[int, float]:
    """Resume from the checkpoint, or start fresh (a new log, maybe from trained weights)."""
    step, elapsed = 0, 0.0
    if resume:
        step, elapsed = _resume(run_dir, mirror_dir, model, opt, device)
    elif (run_dir / "log.jsonl").exists():
        (run_dir / "log.jsonl").unlink()
    if step == 0:
        _init_fresh(model, cfg)
    return step, elapsed


def save_checkpoint(run_dir: Path, mirror_dir: Path | None, model, opt, step: int,
                    elapsed: float, cfg: dict) -> None:
    """Training state (``ckpt.pt``), the weights, a snapshot from ``snapshot_from`` on, the plot."""
    _atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                  "elapsed": elapsed, "torch_rng": torch.get_rng_state(), "config": cfg},
                 run_dir / "ckpt.pt")
    save_weights(model, run_dir / "model.safetensors", dtype=torch.float32,
                 info={"step": step, "hours": elapsed / 3600, "run": cfg["name"],
                       "samples_seen": step * cfg["batch_size"]})
    if cfg["snapshot_from"] and step >= cfg["snapshot_from"]:
        snap = run_dir / "snapshots" / f"model_step{step:06d}.safetensors"
        snap.parent.mkdir(exist_ok=True)
        shutil.copyfile(run_dir / "model.safetensors", snap)  # for training.average_weights
    plot_curves(run_dir / "log.jsonl", run_dir / "loss.png")
    _mirror(run_dir, mirror_dir)


class RunLog:
    """``log.jsonl`` rows: running means of the training losses, and validation results."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "a")  # noqa: SIM115 - closed by close()
        self.sums: dict[str, float] = {}
        self.n = 0

    def add(self, out: dict) -> None:
        for k, v in out.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v.detach())
        self.n += 1

    def write(self, row: dict) -> None:
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()

    def flush_train(self, step: int, elapsed: float, lr: float) -> None:
        row = {"kind": "train", "step": step, "time": round(elapsed, 1), "lr": lr}
        row.update({k: round(v / self.n, 6) for k, v in self.sums.items()})
        self.write(row)
        print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        self.sums, self.n = {}, 0

    def val(self, step: int, elapsed: float, v: dict, label: str = "val") -> None:
        self.write({"kind": "val", "step": step, "time": round(elapsed, 1),
                    **{k: round(x, 6) for k, x in v.items()}})
        print(f"{label} step {step}: " + " ".join(f"{k}={x:.4f}" for k, x in v.items()),
              flush=True)

    def close(self) -> None:
        self.file.close()


def trained_parameters(model: Slice3DCompact, only_fusion: bool,
                       only_colour: bool = False) -> list[torch.nn.Parameter]:
    """Every parameter, or with ``only_fusion`` the view fusion's alone, or with ``only_colour``
    the colour head's alone (the rest frozen, so the network's SDF for one photo stays exactly
    that of the weights it started from)."""
    if not (only_fusion or only_colour):
        return list(model.parameters())
    part = model.view_fusion if only_fusion else model.colour_head
    if part is None:
        raise ValueError("train_only_fusion needs a network with a view fusion" if only_fusion
                         else "train_only_colour needs a network with a colour head")
    for p in model.parameters():
        p.requires_grad_(False)
    kept = list(part.parameters())
    for p in kept:
        p.requires_grad_(True)
    return kept


def param_groups(model: Slice3DCompact, params: list[torch.nn.Parameter],
                 lr_scale: dict[str, float]) -> list[dict]:
    """``params`` as optimiser groups, each with its lr multiplier ``scale``: the parameters
    whose name starts with a prefix of ``lr_scale`` get its value (the first prefix that
    matches), the rest 1 in the first group."""
    wanted = {id(p) for p in params}
    groups: dict[float, list[torch.nn.Parameter]] = {1.0: []}
    for name, p in model.named_parameters():
        if id(p) in wanted:
            scale = next((float(k) for prefix, k in lr_scale.items()
                          if name.startswith(prefix)), 1.0)
            groups.setdefault(scale, []).append(p)
    return [{"params": ps, "scale": scale} for scale, ps in groups.items() if ps]


# --------------------------------------------------------------------------------------- loop
def preflight(cfg: dict, run_root: Path | None = None,
              mirror_root: Path | None = MIRROR) -> tuple[Path, Path | None]:
    """Checks that fail in a second, before the data loads: source weights, and the run folder,
    its mirror and its starting weights all outside ``backend/weights/``."""
    check_source_weights(cfg["source_weights"])
    check_lr_scale(cfg["lr_scale"], "the config")
    check_views(cfg, "the config")
    check_colour(cfg, "the config")
    run_dir = (run_root or REPO / "runs") / cfg["name"]
    mirror_dir = mirror_root / cfg["name"] if mirror_root else None
    refuse_shipped(run_dir, "the run folder")
    if mirror_dir is not None:
        refuse_shipped(mirror_dir, "the mirror folder")
    if cfg.get("init_weights"):
        refuse_shipped(cfg["init_weights"], "init_weights")
    return run_dir, mirror_dir


def train(cfg: dict, hours: float | None = None, resume: bool = False,
          run_root: Path | None = None, mirror_root: Path | None = MIRROR,
          train_data: ShardSet | None = None, val_data: ShardSet | None = None,
          stop_at: int | None = None) -> dict:
    """Train ``cfg`` to ``max_steps`` (or ``stop_at``, which leaves the schedule as it is, or
    the ``hours`` budget); return the step reached, the seconds trained and the run folder."""
    run_dir, mirror_dir = preflight(cfg, run_root, mirror_root)
    device = pick_device(cfg["device"])
    torch.set_num_threads(int(cfg["threads"]))
    torch.manual_seed(cfg["seed"])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(cfg, indent=2))

    mcfg = ModelConfig.from_dict(cfg["model"])
    model = Slice3DCompact(mcfg).to(device)
    opt = torch.optim.Adam(param_groups(model, trained_parameters(
        model, cfg["train_only_fusion"], cfg["train_only_colour"]), cfg["lr_scale"]),
        lr=cfg["lr"])
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and
                                  cfg["autocast"] == "fp16")
    autocast = make_autocast(cfg["autocast"], device)
    step, elapsed = _start(run_dir, mirror_dir, model, opt, device, cfg, resume)
    if train_data is None:
        train_data, val_data = load_data(cfg, mcfg.input_size)
    if cfg["train_only_colour"]:
        train_data = with_colours(train_data, cfg["colour_band"])
    order = sampling_order(train_data.source, cfg["source_weights"])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {n_params / 1e6:.2f}M params, {len(train_data)} train samples "
          f"({len(order)} per weighted epoch), device {device}", flush=True)
    log = RunLog(run_dir / "log.jsonl")
    # the image network frozen and its inputs never augmented: each sample is encoded once
    frozen = cfg["train_only_fusion"] or cfg["train_only_colour"]
    cache = FrozenEncodings(model) if frozen and not cfg["augment"] else None
    band = cfg["colour_band"] if cfg["train_only_colour"] else 0.0

    last = min(cfg["max_steps"], stop_at) if stop_at is not None else cfg["max_steps"]
    budget = hours * 3600 if hours else float("inf")
    t_start = t_ckpt = time.time()
    model.train()
    while step < last:
        if time.time() - t_start >= budget:
            print(f"time budget reached at step {step}", flush=True)
            break
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg) * g.get("scale", 1.0)  # checkpoints from before: 1
        idx = order[batch_indices(len(order), step, cfg["batch_size"], cfg["seed"])]
        rng = np.random.default_rng([cfg["seed"], step, 1])
        batch = make_batch(train_data, idx, cfg["points_per_shape"], rng, device,
                           cfg["augment"], tuple(cfg["views"]), band)
        out = compute_loss(model, batch, cfg, autocast, cache)
        opt.zero_grad(set_to_none=True)
        scaler.scale(out["loss"]).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        scaler.step(opt)
        scaler.update()
        step += 1
        elapsed += time.time() - t0
        log.add(out)
        if step % cfg["log_every"] == 0:
            log.flush_train(step, elapsed, opt.param_groups[0]["lr"])
        if step % cfg["eval_every"] == 0 and val_data is not None:
            log.val(step, elapsed, evaluate_val(model, val_data, cfg, device, autocast))
        if time.time() - t_ckpt > cfg["ckpt_minutes"] * 60:
            save_checkpoint(run_dir, mirror_dir, model, opt, step, elapsed, cfg)
            t_ckpt = time.time()
    if val_data is not None:
        log.val(step, elapsed, evaluate_val(model, val_data, cfg, device, autocast), "final val")
    save_checkpoint(run_dir, mirror_dir, model, opt, step, elapsed, cfg)
    log.close()
    return {"step": step, "elapsed": elapsed, "run_dir": str(run_dir)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--hours", type=float, default=None, help="wall-clock budget of this call")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--max-steps", type=int, default=None, help="change the schedule's length")
    ap.add_argument("--stop-at", type=int, default=None,
                    help="stop at this step; the lr schedule stays the config's")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="override config keys (JSON values), e.g. seed=1 name=proof/A_seed1")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
        cfg.update(parse_overrides(args.set))
        if args.max_steps is not None:
            cfg["max_steps"] = args.max_steps
        preflight(cfg)
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise SystemExit(f"error: {exc}") from None
    result = train(cfg, hours=args.hours, resume=args.resume, stop_at=args.stop_at)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
