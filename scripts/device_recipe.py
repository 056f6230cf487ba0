"""One prepared command for a lent GPU machine: build data on its cores, train a larger network
to a deadline, and leave the weights (at most 16 MiB) and the loss logs in --out (issue 33).

The machine has no network and takes a 64 MiB working tree, so what its cores cannot make there
travels with the command (docs/MODEL.md, "A run on a lent GPU"): the real-mesh shapes as a pack
(``training.pack``), the starting weights, the HDRI cache and the wheels of embreex and trimesh.
The procedural sources (``everyday``, ``procedural``) need nothing but code, so the machine's
cores build them while the GPU already trains:

    t = 0              the build starts (cores - 2 workers); stage 1 trains on the pack alone
    t = build-minutes  the build stops (finished shards kept) and joins the pack's samples
    t = minutes        stage 2, started from stage 1's weights, has trained on both

Each stage is ``scripts/device_train.py`` (a few steps timed, then a cosine schedule that ends
at the stage's deadline, the mean of the late snapshots). Without the wheels the build is
skipped and stage 1 trains on the pack to the end; without a pack the GPU waits for the build.

    python scripts/device_recipe.py training/configs/experiments/gpu_wide.json --minutes 8.5 \\
        --pack .carry/real_p512.npz --init .carry/init.safetensors --out "$OUT"
    python scripts/device_recipe.py training/configs/experiments/gpu_wide.json --smoke \\
        --pack PACK --init INIT --out out/device_smoke     # every stage on the CPU, 2 minutes
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MAX_OUT_BYTES = 16 * 2**20  # what one file under $OUT may weigh and still come back
ENGINE_MODULES = ("embreex", "trimesh", "numba", "skimage", "scipy", "PIL")
# --smoke: every stage for real on a CPU in about two minutes (tests/training/test_device_recipe)
SMOKE = {"minutes": 2.0, "build_minutes": 1.0, "workers": 1, "views": 1,
         "sources": ["procedural"], "shapes": ["procedural=48"], "build_points": 512,
         "finish_seconds": 8.0}
# a narrow encoder (the point decoder as configured, so --init still warm-starts it), small
# batches, one thread: a CPU step in a fraction of a second
SMOKE_SET = {"model": {"channels": [8, 8, 16, 16]}, "batch_size": 2, "points_per_shape": 128,
             "threads": 1, "autocast": "none", "device": "cpu", "val_samples": 4,
             "log_every": 5, "ckpt_minutes": 0.1}
DEVICE = {"minutes": 8.5, "build_minutes": 3.5, "workers": max(1, (os.cpu_count() or 4) - 2),
          "views": 4, "sources": ["everyday", "procedural"],
          "shapes": ["everyday=6000", "procedural=6000"], "build_points": 1024,
          "finish_seconds": 30.0}


def engine_missing() -> list[str]:
    """What the data engine lacks here: modules this Python cannot import (the wheels were not
    installed), or the HDRI maps (the cache under .cache/hdri, else the bpy wheel's EXRs)."""
    import importlib.util

    missing = []
    for name in ENGINE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    from training.data.hdri import CACHE, MAP_H, MAP_W, NAMES

    cached = all((CACHE / f"{n}_{MAP_W}x{MAP_H}.npy").exists() for n in NAMES)
    if not cached and importlib.util.find_spec("bpy") is None:
        missing.append(".cache/hdri (carry it)")
    return missing


def start_build(args: argparse.Namespace, data_dir: Path, log: Path) -> subprocess.Popen:
    """``training.data build`` in its own process group (so it can be stopped whole)."""
    splits = ["train"] if args.pack else ["train", "val"]  # the pack brings the val split
    cmd = [sys.executable, "-m", "training.data", "build", "--out", str(data_dir),
           "--sources", *args.sources, "--shapes", *args.shapes, "--views", str(args.views),
           "--workers", str(args.workers), "--points", str(args.build_points),
           "--splits", *splits]
    print("[build] " + " ".join(cmd[1:]), flush=True)
    return subprocess.Popen(cmd, cwd=REPO, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_build(proc: subprocess.Popen, data_dir: Path, points: int) -> dict:
    """Stop the build (a shard being made is lost, finished ones stay); the manifest of what is
    there, rebuilt from the shards' sidecars."""
    from training.data.shards import write_manifest

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if not (data_dir / "plan.json").exists():
        return {"splits": {}, "counts": {}, "dropped": {}}
    return write_manifest(data_dir, points)


def pack_sources(pack: str | Path) -> set[str]:
    """The sources of a pack's train split (reads one small array)."""
    import numpy as np

    with np.load(pack, allow_pickle=False) as z:
        return set(z["train/source"].astype(str).tolist())


def derived_config(source: str, path: Path, name: str, data: list[str], init: str | None,
                   overrides: dict, present: set[str]) -> Path:
    """A config file that extends ``source`` with this stage's data, start and name. Source
    weights of sources this stage's data lacks are dropped (the trainer refuses them)."""
    from training.config import load_config

    weights = {k: v for k, v in load_config(source)["source_weights"].items() if k in present}
    cfg = {"extends": str(Path(source).resolve()), "name": name, "data": data,
           "train_sources": [], "source_weights": weights, **overrides}
    if init:
        cfg["init_weights"] = str(Path(init).resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg, indent=1))
    return path


def run_stage(configs: list[Path], minutes: float, out: Path, root: Path,
              finish_seconds: float) -> dict[str, Path]:
    """``scripts/device_train.py`` on ``configs`` to a deadline ``minutes`` from now; returns
    each run's weights (mean of its late snapshots, else its last weights) by run name."""
    if minutes * 60 < finish_seconds + 20:  # an earlier stage overran: no time to start one
        print(f"[stage] skipped: {minutes * 60:.0f} s left", flush=True)
        return {}
    cmd = [sys.executable, str(REPO / "scripts" / "device_train.py"), *map(str, configs),
           "--minutes", f"{minutes:.3f}", "--out", str(out), "--root", str(root),
           "--finish-seconds", str(finish_seconds)]
    print(f"[stage] {minutes:.2f} min: " + " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=REPO, check=False)
    found = {}
    for path in sorted(out.glob("*.safetensors")):
        name = path.stem.rsplit("_", 1)[0]  # <name>_avg or <name>_last
        found[name] = path
    return found


def _load_part(args: tuple[str, int]) -> object:
    from training.dataset import load_split

    part, size = args
    return load_split(part, "train", size, verbose=False)


def load_built(data_dir: Path, manifest: dict, size: int, workers: int, work: Path) -> list:
    """The build's train shards, read and framed as training reads them, by ``workers``
    processes at once (one process frames about 50 samples a second)."""
    shards = [str((data_dir / rel).resolve()) for rel in manifest["splits"].get("train", [])]
    if not shards:
        return []
    n = max(1, min(workers, len(shards)))
    parts = []
    for k in range(n):
        part = work / "parts" / f"{k:02d}"
        part.mkdir(parents=True, exist_ok=True)
        (part / "manifest.json").write_text(json.dumps({"splits": {"train": shards[k::n]}}))
        parts.append((str(part), size))
    with mp.get_context("fork").Pool(n) as pool:
        return pool.map(_load_part, parts)


def merge_data(pack: str | None, data_dir: Path, manifest: dict, size: int, workers: int,
               work: Path) -> tuple[Path, dict]:
    """Stage 2's data, one uncompressed pack: the carried pack's train samples and the built
    ones (each sample keeps as many SDF points as the pack has), and the pack's val split
    (the build's when there is no pack). Returns the file and its counts by source."""
    import numpy as np

    from training.dataset import concat_sets, load_pack, load_split
    from training.pack import write_pack

    sets = load_built(data_dir, manifest, size, workers, work)
    val = None
    if pack:
        sets = [load_pack(pack, "train", input_size=size), *sets]
        val = load_pack(pack, "val", input_size=size)
    elif manifest["splits"].get("val"):
        val = load_split(data_dir, "val", size)
    if not sets or val is None:
        raise RuntimeError("no data for stage 2: neither a pack nor a finished shard")
    train = concat_sets(sets)
    out = work / "stage2.npz"
    write_pack({"train": train, "val": val}, out, compress=False)
    src, n = np.unique(train.source.astype(str), return_counts=True)
    return out, {str(s): int(c) for s, c in zip(src, n, strict=True)}


def fit_for_return(src: Path, dst: Path) -> Path:
    """Copy ``src`` to ``dst``; stored as fp16 when fp32 would not come back (> 16 MiB)."""
    shutil.copyfile(src, dst)
    if dst.stat().st_size <= MAX_OUT_BYTES:
        return dst
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no iter
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    save_file({k: v.contiguous() for k, v in half.items()}, str(dst), metadata=meta)
    if dst.stat().st_size > MAX_OUT_BYTES:
        raise SystemExit(f"error: {dst.name} is {dst.stat().st_size / 2**20:.1f} MiB even in "
                         "fp16: it cannot come back; train a smaller network")
    return dst


def val_summary(log: Path) -> dict:
    """The last validation row and the step count of a run's log."""
    if not log.exists():
        return {}
    rows = [json.loads(x) for x in log.read_text().splitlines() if x.strip()]
    vals = [r for r in rows if r.get("kind") == "val"]
    steps = max((r.get("step", 0) for r in rows), default=0)
    return {"steps": steps, "last_val": vals[-1] if vals else None}


def next_steps(widths: dict[str, list[int]], gpu: str | None) -> str:
    """What to run on the CPU once the files are back: calibrate, compare with the shipped
    weights on the photo-like validation set and the v1 test split, fine-tune, ship."""
    from training.recipe import CALIBRATE

    d = "runs/device2"
    lines = ["next, on the CPU (FILES = the folder the run tool's reply names as files_at):",
             f"mkdir -p {d} && cp FILES/* {d}/"]
    hardware = (gpu or "a lent GPU").split(" (UUID")[0].split(": ", 1)[-1]  # nvidia-smi -L
    for name, channels in widths.items():
        cal = f"{d}/{name}_calibrated.safetensors"
        shipped = "shipped=backend/weights/slice3d_compact.safetensors"
        ev = ("python -m training.evaluate --data {data} --split {split}{src} --model {shipped} "
              f"--model {name}={cal} --resolution 128 --threads 2 --sheet-rows 0 --no-photos "
              "--per-source {per} --out runs/eval/{out}")
        cmp_ = "python -m training.compare runs/eval/{out}/results.json:shipped " \
               f"runs/eval/{{out}}/results.json:{name}"
        photo = {"data": "data/photo_val", "split": "val", "src": "", "shipped": shipped,
                 "per": 5, "out": f"{name}_photo_val"}
        test = {"data": "data/v1", "split": "test", "src": " --sources 0ad cgal pybullet",
                "shipped": shipped, "per": 1000, "out": f"{name}_v1_test"}
        lines += [
            f"# {name}: inference settings chosen on data/v1's val split",
            CALIBRATE.format(weights=f"{d}/{name}.safetensors", out=cal),
            "# models are chosen on the photo-like validation set, then the v1 test split",
            ev.format(**photo), cmp_.format(**photo), ev.format(**test), cmp_.format(**test),
            "# the inference budget on the 2-core CPU (5 s at 128^3, 15 s at 256^3)",
            f"python -m training.bench_inference --weights {cal} --resolutions 128 256 "
            "--threads 2",
            "# fine-tune on the CPU (the config's init_weights is this file), average, calibrate",
            f"python -m training.train --config training/configs/experiments/{name}_finetune.json"
            " --hours 2",
            f"python -m training.average_weights --out runs/{name}_finetune/model_avg.safetensors "
            f"runs/{name}_finetune/snapshots/*.safetensors",
            CALIBRATE.format(weights=f"runs/{name}_finetune/model_avg.safetensors",
                             out=f"runs/{name}_finetune/model_calibrated.safetensors"),
            "# and, if it wins on both sets: ship it (then the model card and docs/MODEL.md)",
            f"python -m training.ship --candidate runs/{name}_finetune/model_calibrated."
            f"safetensors --describe \"{name}, encoder widths {'/'.join(map(str, channels))}, "
            "trained on a lent GPU by scripts/device_recipe.py, fine-tuned on the CPU\" "
            f"--hardware \"{hardware} + shared 2-core CPU\"",
        ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("configs", nargs="+", help="one or two training configs (gpu_*.json)")
    ap.add_argument("--out", type=Path, required=True, help="weights, logs, summary.json")
    ap.add_argument("--pack", help="carried real-mesh pack (python -m training.pack)")
    ap.add_argument("--init", help="starting weights of stage 1 (a copy outside backend/weights)")
    ap.add_argument("--minutes", type=float, help="from start to weights in --out (8.5)")
    ap.add_argument("--build-minutes", type=float, help="when the build stops (3.5)")
    ap.add_argument("--workers", type=int, help="build workers (cores - 2)")
    ap.add_argument("--views", type=int, help="views per built shape (4)")
    ap.add_argument("--sources", nargs="+", help="sources built there (everyday procedural)")
    ap.add_argument("--shapes", nargs="+", help="SOURCE=N shapes listed per source")
    ap.add_argument("--build-points", type=int, help="SDF points per built sample (1024)")
    ap.add_argument("--finish-seconds", type=float, help="kept per stage for its last steps")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides for every run (JSON values; model merges key by key)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/device_recipe"))
    ap.add_argument("--smoke", action="store_true",
                    help="CPU smoke: one worker, a minute of building, small batches, 2 minutes")
    args = ap.parse_args(argv)
    if len(args.configs) > 2:
        ap.error("at most two configs: 3 files each and a summary must fit the 8 files that "
                 "come back")
    preset = SMOKE if args.smoke else DEVICE
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def overrides(args: argparse.Namespace) -> dict:
    from training.config import parse_overrides

    return {**(SMOKE_SET if args.smoke else {}), **parse_overrides(args.set)}


def stage_one(args, names: dict[str, str], build: subprocess.Popen | None,
              deadline: float) -> dict[str, Path]:
    """Train on the pack until the build stops (to the end when nothing is built); without a
    pack, wait for the build."""
    if not args.pack:
        while build is not None and build.poll() is None and time.time() < deadline:
            time.sleep(2)
        return {}
    pack = str(Path(args.pack).resolve())
    present = pack_sources(pack)
    cfgs = [derived_config(src, args.work / "cfg" / f"{n}_s1.json", n, [pack], args.init,
                           overrides(args), present) for src, n in names.items()]
    minutes = (deadline - time.time()) / 60
    return run_stage(cfgs, minutes, args.work / "s1", args.work / "runs1", args.finish_seconds)


def stage_two(args, names: dict[str, str], data: Path, first: dict[str, Path],
              deadline: float) -> dict[str, Path]:
    present = pack_sources(data)
    cfgs = [derived_config(src, args.work / "cfg" / f"{n}_s2.json", n, [str(data)],
                           str(first.get(n, args.init or "")) or None, overrides(args), present)
            for src, n in names.items()]
    minutes = (deadline - time.time()) / 60
    return run_stage(cfgs, minutes, args.work / "s2", args.work / "runs2", args.finish_seconds)


def collect(names: list[str], weights: dict[str, Path], args: argparse.Namespace) -> dict:
    """The weights and both stages' logs into --out; what each run reached."""
    args.out.mkdir(parents=True, exist_ok=True)
    runs = {}
    for name in names:
        info: dict = {}
        for stage in ("s1", "s2"):
            log = args.work / f"runs{stage[1]}" / name / "log.jsonl"
            if log.exists():
                shutil.copyfile(log, args.out / f"{name}_{stage}_log.jsonl")
            info[stage] = val_summary(log)
        if name in weights:
            dst = fit_for_return(weights[name], args.out / f"{name}.safetensors")
            info["weights"] = {"file": dst.name, "bytes": dst.stat().st_size,
                               "from": str(weights[name])}
        runs[name] = info
    return runs


def build_phase(args, t0: float) -> tuple[subprocess.Popen | None, dict]:
    """Start the build if the engine can run here; the reason in the summary if not."""
    missing = engine_missing()
    if missing:
        print(f"[build] skipped: the data engine lacks {missing} (carry the wheels and "
              ".cache/hdri)", flush=True)
        return None, {"skipped": f"missing {missing}"}
    data_dir = args.work / "data"
    return start_build(args, data_dir, args.work / "build.log"), {"started_s": time.time() - t0}


def second_phase(args, names: dict[str, str], build: subprocess.Popen, first: dict[str, Path],
                 size: int, times: tuple[float, float], summary: dict) -> dict[str, Path]:
    """Stop the build, join its samples to the pack's, train stage 2 on them to the deadline."""
    t0, deadline = times
    manifest = stop_build(build, args.work / "data", args.build_points)
    summary["build"].update(stopped_s=time.time() - t0, counts=manifest["counts"],
                            dropped=manifest["dropped"], log_tail=tail(args.work / "build.log"))
    try:
        data, summary["stage2_train"] = merge_data(args.pack, args.work / "data", manifest,
                                                   size, args.workers, args.work)
    except RuntimeError as exc:  # nothing built and no pack: stage 1's weights are the result
        print(f"[stage 2] skipped: {exc}", flush=True)
        return {}
    summary["stage2_data_ready_s"] = time.time() - t0
    return stage_two(args, names, data, first, deadline)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    t0 = time.time()
    deadline, build_end = t0 + args.minutes * 60, t0 + args.build_minutes * 60
    from training.config import load_config

    names = {src: load_config(src)["name"] for src in args.configs}
    size = {load_config(src)["model"].get("input_size", 128) for src in args.configs}.pop()
    if args.work.resolve() in (REPO, *REPO.parents):
        raise SystemExit(f"error: --work {args.work} would empty the repository")
    shutil.rmtree(args.work, ignore_errors=True)  # a scratch folder: the last run's is dropped
    args.work.mkdir(parents=True)
    summary: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "env": env_report()}
    build, summary["build"] = build_phase(args, t0)
    first = stage_one(args, names, build, build_end if build else deadline)
    weights = dict(first)
    if build is not None:
        weights.update(second_phase(args, names, build, first, size, (t0, deadline), summary))
    summary["runs"] = collect(list(names.values()), weights, args)
    summary["seconds"] = time.time() - t0
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    print(json.dumps({k: summary[k] for k in ("build", "runs", "seconds")}, indent=1,
                     default=str), flush=True)
    from backend.model import ModelConfig

    widths = {n: list(ModelConfig.from_dict(load_config(src)["model"]).encoder_widths())
              for src, n in names.items()}
    print(next_steps(widths, summary["env"]["gpu"]), flush=True)
    if len(weights) < len(names):
        raise SystemExit(f"error: no weights for {sorted(set(names.values()) - set(weights))}")


def tail(path: Path, lines: int = 15) -> list[str]:
    if not path.exists():
        return []
    text = path.read_text(errors="replace").replace("\r", "\n")
    return [x for x in text.splitlines() if x.strip()][-lines:]


def env_report() -> dict:
    """Versions and the GPU, so the summary says where its numbers came from. The GPU is asked
    through nvidia-smi: CUDA stays untouched in this process, which forks the data loaders."""
    import platform

    import numpy as np
    import torch

    try:
        gpu = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True,
                             timeout=30).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        gpu = None
    return {"python": platform.python_version(), "numpy": np.__version__,
            "torch": torch.__version__, "cuda": torch.version.cuda, "gpu": gpu,
            "cpus": os.cpu_count()}


if __name__ == "__main__":
    main()
