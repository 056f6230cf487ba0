"""Train Slice3D-compact (nanoGPT-style: one file, one config, a time budget, exact resume).

    python -m training.train --config training/configs/slice3d_compact.json [--hours H] [--resume]

The run folder is ``runs/<name>/`` (git-ignored), mirrored to ``/root/slice3d-runs/<name>/`` so a
later session can resume. It holds ``ckpt.pt`` (model, optimiser, step: training state only; it is
never shipped), ``model.safetensors`` (the weights, loadable by the backend), ``log.jsonl`` and
``loss.png``. Batches are a pure function of (seed, step), so a resumed run sees exactly the
batches an uninterrupted one would have.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from backend.framing import to_model_input
from backend.model import ModelConfig, Slice3DCompact, save_weights
from backend.model.network import SAMPLINGS

REPO = Path(__file__).resolve().parent.parent
MIRROR = Path("/root/slice3d-runs")

DEFAULTS = {
    "name": "slice3d_compact",
    "data": "data/v1",
    "seed": 0,
    "model": {},
    "batch_size": 16,
    "points_per_shape": 256,
    "lr": 3e-4,
    "min_lr_frac": 0.1,
    "warmup_steps": 100,
    "decay_from": 0,  # constant lr until this step, then cosine down to min_lr_frac at max_steps
    "max_steps": 100_000,
    "grad_clip": 1.0,
    "sdf_clamp": 0.3,  # > the coarse-to-fine band, so free space reads as far
    "w_sdf": 10.0,
    "w_slice": 1.0,
    "w_bbox": 1.0,
    "w_slice_dice": 0.0,  # soft Dice on slice alpha: L1 alone lets the sparse X/Y slices go empty
    "augment": 0.0,  # strength of photometric augmentation (0 = off, 1 = the photo-like range)
    "w_sign": 1.0,  # BCE on inside/outside with logit -sdf / sign_temp: keeps the sign honest
    "sign_temp": 0.02,
    "feature_sampling": "bilinear",  # how point features are read from the maps (SAMPLINGS)
    "threads": 2,
    "autocast": "none",  # "none" | "bf16" (CPU) | "fp16" (CUDA)
    "device": "auto",
    "log_every": 20,
    "eval_every": 250,
    "val_samples": 64,
    "ckpt_minutes": 5.0,
    "snapshot_from": 0,  # > 0: every checkpoint from this step on also lands in snapshots/
    "max_train_samples": 0,  # 0 = all
    "source_weights": {},  # e.g. {"0ad": 3}: each 0ad sample comes 3 times per epoch (default 1)
    "init_weights": "",  # start a fresh run from these weights (training.warm_start)
    "init_encoder": "",  # ImageNet MobileNetV2 trunk (training.pretrained) for a fresh run
}


def load_config(path: str | Path) -> dict:
    """DEFAULTS updated by the file; an unknown key or a bad source weight is refused here, since
    a misspelt key would silently train with its default."""
    given = json.loads(Path(path).read_text())
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{path}: unknown config keys {unknown}; known keys: {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **given}
    check_source_weights(cfg["source_weights"])
    if cfg["feature_sampling"] not in SAMPLINGS:
        raise ValueError(f"{path}: feature_sampling must be one of {SAMPLINGS}")
    return cfg


# ---------------------------------------------------------------------------------------- data
@dataclass
class ShardSet:
    """A split held in memory, ready for batching (images already framed as the backend does)."""

    image: np.ndarray  # uint8 [N,S,S,4]: to_model_input(...) * 255, RGB on white
    slices: np.ndarray  # uint8 [N,12,2,s,s] at the feature-map resolution
    points: np.ndarray  # float16 [N,P,3]
    sdf: np.ndarray  # float16 [N,P]
    bbox: np.ndarray  # float32 [N,2,3]
    shape_id: np.ndarray
    source: np.ndarray

    def __len__(self) -> int:
        return len(self.image)


def frame_images(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack(
        [np.round(to_model_input(im, size) * 255.0).astype(np.uint8) for im in images]
    )


def pool_slices(slices: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N,12,H,W,2] -> uint8 [N,12,2,size,size] (box filter)."""
    n, k, h, w, c = slices.shape
    f = h // size
    x = slices.reshape(n, k, size, f, size, f, c).astype(np.float32).mean(axis=(3, 5))
    return np.round(x).astype(np.uint8).transpose(0, 1, 4, 2, 3).copy()


def load_split(
    data_dir: str | Path, split: str, input_size: int = 128, limit: int = 0,
    verbose: bool = True,
) -> ShardSet:
    data_dir = Path(data_dir)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    parts: dict[str, list] = {k: [] for k in ShardSet.__dataclass_fields__}
    total = 0
    t0 = time.time()
    for rel in manifest["splits"].get(split, []):
        with np.load(data_dir / rel, allow_pickle=False) as z:
            parts["image"].append(frame_images(z["image"], input_size))
            parts["slices"].append(pool_slices(z["slices"], input_size // 2))
            parts["points"].append(z["points"].astype(np.float16))
            parts["sdf"].append(z["sdf"].astype(np.float16))
            parts["bbox"].append(z["bbox"].astype(np.float32))
            parts["shape_id"].append(z["shape_id"].astype(str))
            parts["source"].append(z["source"].astype(str))
        total += len(parts["image"][-1])
        if limit and total >= limit:
            break
    if not parts["image"]:
        raise FileNotFoundError(f"no {split!r} shards in {data_dir}")
    out = ShardSet(**{k: np.concatenate(v) for k, v in parts.items()})
    if limit:
        out = ShardSet(**{k: getattr(out, k)[:limit] for k in parts})
    if verbose:
        print(f"loaded {split}: {len(out)} samples from {data_dir} in {time.time() - t0:.0f}s",
              flush=True)
    return out


def read_split(source: Path, split: str, input_size: int, limit: int = 0) -> ShardSet:
    """A data folder, or a pack (``training.pack``: a ``.npz`` file carried to a GPU machine)."""
    if source.suffix == ".npz":
        from training.pack import load_pack

        return load_pack(source, split, limit, input_size)
    return load_split(source, split, input_size, limit)


def concat_sets(sets: list[ShardSet]) -> ShardSet:
    """One training set from several data folders. A shape already read from an earlier folder
    is left out of the later ones, so a folder that extends a source (more 0ad shapes, say)
    does not count the shapes it shares with another twice."""
    if len(sets) == 1:
        return sets[0]
    seen: set[str] = set()
    kept = []
    for s in sets:
        ids = s.shape_id.astype(str)
        new = ~np.isin(ids, list(seen))
        seen.update(ids.tolist())
        kept.append(s if new.all() else
                    ShardSet(**{k: getattr(s, k)[new] for k in ShardSet.__dataclass_fields__}))
    sets = [s for s in kept if len(s)]
    p = min(s.points.shape[1] for s in sets)
    out = {}
    for k in ShardSet.__dataclass_fields__:
        arrs = [getattr(s, k) for s in sets]
        if k in ("points", "sdf"):  # different points per sample: keep a random common subset
            arrs = [a[:, np.random.default_rng(0).permutation(a.shape[1])[:p]] for a in arrs]
        out[k] = np.concatenate(arrs)
    return ShardSet(**out)


def batch_indices(n: int, step: int, batch: int, seed: int) -> np.ndarray:
    """Sample indices of ``step``: epochs are seeded permutations, so resume is exact."""
    start = step * batch
    out = []
    while len(out) < batch:
        epoch, pos = divmod(start + len(out), n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = min(batch - len(out), n - pos)
        out.extend(perm[pos : pos + take])
    return np.asarray(out)


def check_source_weights(weights: dict[str, int]) -> None:
    """Fail before the data loads (minutes) when a weight is not a whole number >= 1."""
    for name, k in weights.items():
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"source_weights[{name!r}] must be a whole number >= 1, got {k!r}")


def sampling_order(sources: np.ndarray, weights: dict[str, int]) -> np.ndarray:
    """Sample indices of one weighted epoch: a sample of a source of weight k appears k times.

    Integer repeats keep epochs as seeded permutations, so resume stays exact; with no weights
    the order is the identity and a run batches exactly as it did before weights existed.
    """
    check_source_weights(weights)
    missing = sorted(set(weights) - {str(s) for s in sources})
    if missing:  # a misspelt source would otherwise weigh nothing, silently
        raise ValueError(f"source_weights names {missing}, not in the training data "
                         f"(sources: {sorted({str(s) for s in sources})})")
    reps = np.array([weights.get(str(s), 1) for s in sources], dtype=np.int64)
    return np.repeat(np.arange(len(sources)), reps)


def augment_images(image: torch.Tensor, rng: np.random.Generator, strength: float) -> torch.Tensor:
    """Photo-like changes to the object's pixels [B,4,S,S]: exposure, contrast, saturation, white
    balance, blur and sensor noise. Alpha and geometry stay as they are (the targets do not move).

    Renders are clean and evenly lit; photos are not, so the network must not key on exact shading.
    """
    b, dev = image.shape[0], image.device
    rgb, alpha = image[:, :3], image[:, 3:]

    def u(lo: float, hi: float, shape: tuple = (b, 1, 1, 1)) -> torch.Tensor:
        return torch.from_numpy(rng.uniform(lo, hi, size=shape).astype(np.float32)).to(dev)

    s = strength
    grey = rgb.mean(dim=1, keepdim=True)
    rgb = grey + (rgb - grey) * u(1 - 0.6 * s, 1 + 0.4 * s)  # saturation
    mean = (rgb * alpha).sum(dim=(1, 2, 3), keepdim=True) / (3 * alpha.sum(dim=(1, 2, 3),
                                                                          keepdim=True) + 1e-6)
    rgb = mean + (rgb - mean) * u(1 - 0.4 * s, 1 + 0.3 * s)  # contrast
    rgb = rgb * u(1 - 0.35 * s, 1 + 0.3 * s) * u(1 - 0.1 * s, 1 + 0.1 * s, (b, 3, 1, 1))
    blur_rows = rng.uniform(size=b) < 0.3 * s  # tested here, not on the device: no sync
    blur = torch.from_numpy(blur_rows).to(dev)
    if blur_rows.any():
        soft = F.avg_pool2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        rgb = torch.where(blur[:, None, None, None], soft, rgb)
    # the noise is drawn where the image is: on a GPU, numpy's draw was most of a step's time
    gen = torch.Generator(device=dev).manual_seed(int(rng.integers(2**62)))
    rgb = rgb + torch.randn(rgb.shape, generator=gen, device=dev) * u(0, 0.03 * s)
    rgb = rgb.clamp(0, 1) * alpha + (1 - alpha)  # background stays white, as the backend makes it
    return torch.cat([rgb, alpha], dim=1)


def make_batch(data: ShardSet, idx: np.ndarray, n_points: int, rng: np.random.Generator,
               device: torch.device, augment: float = 0.0) -> dict[str, torch.Tensor]:
    p = data.points.shape[1]
    pick = np.stack([rng.choice(p, size=n_points, replace=n_points > p) for _ in idx])
    rows = idx[:, None]
    # bytes travel to the device and become floats there (4x less to copy, no CPU work)
    image = torch.from_numpy(data.image[idx]).to(device).permute(0, 3, 1, 2).float() / 255.0
    if augment > 0:
        image = augment_images(image, rng, augment)
    batch = {
        "image": image,
        "slices": torch.from_numpy(data.slices[idx]).to(device).float().flatten(1, 2) / 255.0,
        "points": torch.from_numpy(data.points[rows, pick].astype(np.float32)),
        "sdf": torch.from_numpy(data.sdf[rows, pick].astype(np.float32)),
        "bbox": torch.from_numpy(data.bbox[idx]),
    }
    return {k: v.to(device) for k, v in batch.items()}


# ---------------------------------------------------------------------------------------- loss
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


def lr_at(step: int, cfg: dict) -> float:
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


# ---------------------------------------------------------------------------------------- plot
def plot_curves(log_path: Path, png_path: Path) -> None:
    """Loss curves (train total, train sdf, val sdf, val slice) drawn with PIL, log-scale y."""
    from PIL import Image, ImageDraw

    rows = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        for k, v in r.items():
            if k in ("step", "time", "lr", "kind") or not isinstance(v, int | float) or v <= 0:
                continue
            series.setdefault(f"{r['kind']}/{k}", []).append((r["step"], float(v)))
    keep = [k for k in ("train/loss", "train/sdf", "train/slice", "val/sdf", "val/slice",
                        "val/bbox") if k in series]
    w, h, m = 900, 520, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    if not keep:
        img.save(png_path)
        return
    xs = [s for k in keep for s, _ in series[k]]
    ys = [math.log10(v) for k in keep for _, v in series[k]]
    x0, x1 = 0, max(xs) or 1
    y0, y1 = math.floor(min(ys) * 2) / 2, math.ceil(max(ys) * 2) / 2
    y1 = max(y1, y0 + 0.5)

    def px(s, v):
        return (m + (s - x0) / (x1 - x0) * (w - 2 * m),
                h - m - (math.log10(v) - y0) / (y1 - y0) * (h - 2 * m))

    d.rectangle([m, m, w - m, h - m], outline="black")
    yv = y0
    while yv <= y1 + 1e-9:
        yy = h - m - (yv - y0) / (y1 - y0) * (h - 2 * m)
        d.line([m, yy, w - m, yy], fill=(225, 225, 225))
        d.text((5, yy - 6), f"1e{yv:g}", fill="black")
        yv += 0.5
    for i in range(5):
        s = x0 + (x1 - x0) * i / 4
        d.text((px(s, 10**y0)[0] - 10, h - m + 8), f"{int(s)}", fill="black")
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75)]
    for i, k in enumerate(keep):
        pts = series[k]
        if k.startswith("train/") and len(pts) > 10:  # light smoothing for the noisy train curve
            vals = np.array([v for _, v in pts])
            ker = np.ones(5) / 5
            sm = np.convolve(np.pad(vals, 2, mode="edge"), ker, mode="valid")
            pts = [(s, float(v)) for (s, _), v in zip(pts, sm, strict=True)]
        d.line([px(s, v) for s, v in pts], fill=colours[i % 6], width=2)
        d.text((w - m - 150, m + 8 + 14 * i), k, fill=colours[i % 6])
    d.text((m, 20), f"{log_path.parent.name}: losses (log10) vs step", fill="black")
    img.save(png_path)


# ---------------------------------------------------------------------------------------- main
def _atomic_save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _mirror(run_dir: Path, mirror_dir: Path | None) -> None:
    if mirror_dir is None:
        return
    try:
        mirror_dir.mkdir(parents=True, exist_ok=True)
        for f in ("ckpt.pt", "model.safetensors", "log.jsonl", "loss.png", "config.json"):
            if (run_dir / f).exists():
                shutil.copy2(run_dir / f, mirror_dir / (f + ".tmp"))
                os.replace(mirror_dir / (f + ".tmp"), mirror_dir / f)
    except OSError as exc:  # a mirror failure must not kill the run
        print(f"warning: mirror to {mirror_dir} failed: {exc}", flush=True)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def train(cfg: dict, hours: float | None = None, resume: bool = False,
          run_root: Path | None = None, mirror_root: Path | None = MIRROR,
          train_data: ShardSet | None = None, val_data: ShardSet | None = None) -> dict:
    check_source_weights(cfg["source_weights"])
    device = pick_device(cfg["device"])
    torch.set_num_threads(int(cfg["threads"]))
    torch.manual_seed(cfg["seed"])
    run_dir = (run_root or REPO / "runs") / cfg["name"]
    run_dir.mkdir(parents=True, exist_ok=True)
    mirror_dir = mirror_root / cfg["name"] if mirror_root else None
    (run_dir / "config.json").write_text(json.dumps(cfg, indent=2))

    mcfg = ModelConfig.from_dict(cfg["model"])
    model = Slice3DCompact(mcfg).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and
                                  cfg["autocast"] == "fp16")
    autocast = make_autocast(cfg["autocast"], device)
    step, elapsed = 0, 0.0
    ckpt_path = run_dir / "ckpt.pt"
    if resume:
        src = ckpt_path
        if not src.exists() and mirror_dir and (mirror_dir / "ckpt.pt").exists():
            src = mirror_dir / "ckpt.pt"
            for f in ("log.jsonl",):
                if (mirror_dir / f).exists():
                    shutil.copy2(mirror_dir / f, run_dir / f)
        if src.exists():
            state = torch.load(src, map_location=device, weights_only=False)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["opt"])
            step, elapsed = state["step"], state["elapsed"]
            torch.set_rng_state(state["torch_rng"])
            print(f"resumed {src} at step {step} ({elapsed / 3600:.2f} h trained)", flush=True)
        else:
            print("no checkpoint to resume: starting fresh", flush=True)
    elif (run_dir / "log.jsonl").exists():
        (run_dir / "log.jsonl").unlink()
    if step == 0 and cfg.get("init_weights"):
        from training.warm_start import warm_start

        fresh = warm_start(model, REPO / cfg["init_weights"])
        print(f"initialised from {cfg['init_weights']}; left as built: {fresh}", flush=True)
    if step == 0 and cfg.get("init_encoder"):
        from training.pretrained import init_encoder

        init_encoder(model, REPO / cfg["init_encoder"])
        print(f"encoder initialised from {cfg['init_encoder']}", flush=True)

    if train_data is None:
        dirs = cfg["data"] if isinstance(cfg["data"], list) else [cfg["data"]]
        dirs = [REPO / d for d in dirs]  # an absolute path stays as it is
        train_data = concat_sets(
            [read_split(d, "train", mcfg.input_size, cfg["max_train_samples"]) for d in dirs]
        )
        val_data = read_split(dirs[0], "val", mcfg.input_size, cfg["val_samples"])
    order = sampling_order(train_data.source, cfg["source_weights"])
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model {n_params / 1e6:.2f}M params, {len(train_data)} train samples "
          f"({len(order)} per weighted epoch), device {device}", flush=True)

    log = open(run_dir / "log.jsonl", "a")  # noqa: SIM115 - closed at the end of the run

    def write(row: dict) -> None:
        log.write(json.dumps(row) + "\n")
        log.flush()

    def checkpoint() -> None:
        _atomic_save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,
                      "elapsed": elapsed, "torch_rng": torch.get_rng_state(), "config": cfg},
                     ckpt_path)
        save_weights(model, run_dir / "model.safetensors", dtype=torch.float32,
                     info={"step": step, "hours": elapsed / 3600, "run": cfg["name"],
                           "samples_seen": step * cfg["batch_size"]})
        if cfg["snapshot_from"] and step >= cfg["snapshot_from"]:
            snap = run_dir / "snapshots" / f"model_step{step:06d}.safetensors"
            snap.parent.mkdir(exist_ok=True)
            shutil.copyfile(run_dir / "model.safetensors", snap)  # for training.average_weights
        plot_curves(run_dir / "log.jsonl", run_dir / "loss.png")
        _mirror(run_dir, mirror_dir)

    budget = hours * 3600 if hours else float("inf")
    t_start = time.time()
    t_ckpt = time.time()
    run_sums: dict[str, float] = {}
    run_n = 0
    model.train()
    while step < cfg["max_steps"]:
        if time.time() - t_start >= budget:
            print(f"time budget reached at step {step}", flush=True)
            break
        t0 = time.time()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, cfg)
        idx = order[batch_indices(len(order), step, cfg["batch_size"], cfg["seed"])]
        rng = np.random.default_rng([cfg["seed"], step, 1])
        batch = make_batch(train_data, idx, cfg["points_per_shape"], rng, device,
                           cfg["augment"])
        out = compute_loss(model, batch, cfg, autocast)
        opt.zero_grad(set_to_none=True)
        scaler.scale(out["loss"]).backward()
        scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg["grad_clip"])
        scaler.step(opt)
        scaler.update()
        step += 1
        elapsed += time.time() - t0
        for k, v in out.items():
            run_sums[k] = run_sums.get(k, 0.0) + float(v.detach())
        run_n += 1
        if step % cfg["log_every"] == 0:
            row = {"kind": "train", "step": step, "time": round(elapsed, 1),
                   "lr": opt.param_groups[0]["lr"]}
            row.update({k: round(v / run_n, 6) for k, v in run_sums.items()})
            write(row)
            print(" ".join(f"{k}={v}" for k, v in row.items()), flush=True)
            run_sums, run_n = {}, 0
        if step % cfg["eval_every"] == 0 and val_data is not None:
            v = evaluate_val(model, val_data, cfg, device, autocast)
            write({"kind": "val", "step": step, "time": round(elapsed, 1),
                   **{k: round(x, 6) for k, x in v.items()}})
            print(f"val step {step}: " + " ".join(f"{k}={x:.4f}" for k, x in v.items()),
                  flush=True)
        if time.time() - t_ckpt > cfg["ckpt_minutes"] * 60:
            checkpoint()
            t_ckpt = time.time()
    if val_data is not None:
        v = evaluate_val(model, val_data, cfg, device, autocast)
        write({"kind": "val", "step": step, "time": round(elapsed, 1),
               **{k: round(x, 6) for k, x in v.items()}})
        print(f"final val step {step}: " + " ".join(f"{k}={x:.4f}" for k, x in v.items()),
              flush=True)
    checkpoint()
    log.close()
    return {"step": step, "elapsed": elapsed, "run_dir": str(run_dir)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True)
    ap.add_argument("--hours", type=float, default=None, help="wall-clock budget of this call")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--max-steps", type=int, default=None)
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config)
        if args.max_steps is not None:
            cfg["max_steps"] = args.max_steps
    except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise SystemExit(f"error: {exc}") from None
    result = train(cfg, hours=args.hours, resume=args.resume)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
