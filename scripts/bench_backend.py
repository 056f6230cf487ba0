"""Backend benchmark: per-stage timings, coarse-to-fine vs dense, warm server vs cold CLI, and a
new user's first reconstruction against a warm one.

Prints figures and ratios measured in this one run; docs/BENCHMARKS.md records them with the
machine. Not a test: nothing here asserts a time.

    .venv/bin/python scripts/bench_backend.py [--image examples/apple.jpg] [--predictor auto]
    .venv/bin/python scripts/bench_backend.py --only first_run   # just the first-run figures

"first_run" copies the backend as a fresh clone has it (no __pycache__) into a temp folder and
runs `python -m backend reconstruct` there twice, each in a new process: the first with empty
numba, torch and XDG caches (as a new user has them), the second with what the first left. The
installed packages keep the bytecode pip wrote at install, as a new user's do; the model file is
the installed one (SLICE3D_MODELS_DIR); the OS file cache is not dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import requests
import torch
import trimesh
from scipy.spatial import cKDTree

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.foreground import extract_foreground  # noqa: E402
from backend.framing import frame_object, to_model_input  # noqa: E402
from backend.intake import load_image  # noqa: E402
from backend.meshing import evaluate_coarse_to_fine, evaluate_dense, marching_cubes  # noqa: E402
from backend.options import ReconstructOptions  # noqa: E402
from backend.pipeline import Reconstructor  # noqa: E402
from backend.u2net_model import models_dir  # noqa: E402

FRESH_CACHES = ("NUMBA_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR", "XDG_CACHE_HOME")


def chamfer_l1(a: trimesh.Trimesh, b: trimesh.Trimesh, n: int = 20_000) -> float:
    """Chamfer-L1 (ARCHITECTURE.md section 9): the mean of both directions' mean NN distances."""
    pa = trimesh.sample.sample_surface(a, n, seed=0)[0]
    pb = trimesh.sample.sample_surface(b, n, seed=1)[0]
    return float(0.5 * (cKDTree(pb).query(pa)[0].mean() + cKDTree(pa).query(pb)[0].mean()))


def stage_timings(image: bytes, predictor: str, resolution: int) -> dict:
    rec = Reconstructor(torch.device("cpu"))
    opts = ReconstructOptions(resolution=resolution, predictor=predictor)
    with tempfile.TemporaryDirectory() as tmp:
        rec.run(image, opts, Path(tmp) / "warmup")
        start = time.perf_counter()
        result = rec.run(image, opts, Path(tmp) / "warm")
        wall = time.perf_counter() - start
    return {"wall_s": round(wall, 3), "stages_s": result["timings_s"], "model": result["model"]}


def grid_comparison(image: bytes, predictor: str, n: int) -> dict:
    loaded = load_image(image)
    cutout, _ = extract_foreground(loaded.rgba, loaded.has_alpha)
    model_input = to_model_input(frame_object(cutout))
    rec = Reconstructor(torch.device("cpu"))
    sdf = rec.predictor(predictor).predict(model_input).sdf
    evaluate_coarse_to_fine(sdf, 64, torch.device("cpu"))  # warm both paths' kernels
    start = time.perf_counter()
    fine = evaluate_coarse_to_fine(sdf, n, torch.device("cpu"))
    t_fine = time.perf_counter() - start
    start = time.perf_counter()
    dense = evaluate_dense(sdf, n, torch.device("cpu"))
    t_dense = time.perf_counter() - start
    m_fine = trimesh.Trimesh(*marching_cubes(fine))
    m_dense = trimesh.Trimesh(*marching_cubes(dense))
    near = np.abs(dense.values) < 2 * (dense.hi - dense.lo) / n
    return {
        "resolution": n,
        "dense_evals": dense.evaluations, "c2f_evals": fine.evaluations,
        "eval_ratio": round(dense.evaluations / fine.evaluations, 2),
        "dense_s": round(t_dense, 3), "c2f_s": round(t_fine, 3),
        "time_ratio": round(t_dense / t_fine, 2),
        "max_abs_diff_near_surface": float(np.abs(fine.values - dense.values)[near].max()),
        "chamfer_l1_c2f_vs_dense": chamfer_l1(m_fine, m_dense),
        "chamfer_l1_dense_vs_itself": chamfer_l1(m_dense, m_dense),  # the sampling noise floor
        "same_topology": bool(np.array_equal(m_fine.faces, m_dense.faces)),
        "max_vertex_shift": float(np.abs(m_fine.vertices - m_dense.vertices).max())
        if len(m_fine.vertices) == len(m_dense.vertices) else None,
        "faces": [len(m_fine.faces), len(m_dense.faces)],
    }


def server_vs_cli(image_path: Path, predictor: str, resolution: int, runs: int = 3) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        token_file, state_file = Path(tmp) / "token", Path(tmp) / "state.json"
        proc = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--token-file", str(token_file),
             "--state-file", str(state_file)], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not state_file.exists():
                time.sleep(0.1)
            url = json.loads(state_file.read_text())["url"]
            headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
            data = image_path.read_bytes()
            params = {"resolution": resolution, "predictor": predictor}
            latencies = [_one_job(url, headers, data, params) for _ in range(runs + 1)][1:]
            requests.post(f"{url}/shutdown", headers=headers, timeout=10)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "backend", "reconstruct", str(image_path), "-o",
                        str(Path(tmp) / "cli"), "--resolution", str(resolution),
                        "--predictor", predictor],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        cold = time.perf_counter() - start
    warm = float(np.median(latencies))
    return {"resolution": resolution, "warm_server_s": round(warm, 3),
            "warm_runs_s": [round(x, 3) for x in latencies], "cold_cli_s": round(cold, 3),
            "cold_over_warm": round(cold / warm, 2)}


def _one_job(url: str, headers: dict, data: bytes, params: dict) -> float:
    start = time.perf_counter()
    job = requests.post(f"{url}/jobs", params=params, data=data,
                        headers=headers, timeout=30).json()
    while True:
        state = requests.get(f"{url}/jobs/{job['id']}", headers=headers, timeout=10).json()
        if state["state"] in ("done", "failed", "cancelled"):
            break
        time.sleep(0.02)
    requests.get(f"{url}/jobs/{job['id']}/result", headers=headers, timeout=30).raise_for_status()
    return time.perf_counter() - start


def first_run_vs_warm(image_path: Path, predictor: str, resolution: int,
                      warm_runs: int = 3) -> dict:
    """A fresh clone's first `reconstruct` (new process, cold caches) against the same again
    (each a new process; the median of ``warm_runs``)."""
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        shutil.copytree(ROOT / "backend", clone / "backend",
                        ignore=shutil.ignore_patterns("__pycache__"))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "U2NET_HOME")}
        env["SLICE3D_MODELS_DIR"] = str(models_dir())
        for var in FRESH_CACHES:
            env[var] = str(Path(tmp) / var.lower())
            Path(env[var]).mkdir()
        first = _cli_run(clone, env, image_path, Path(tmp) / "first", predictor, resolution)
        numba_files = sum(1 for p in Path(env["NUMBA_CACHE_DIR"]).rglob("*") if p.is_file())
        warm = [_cli_run(clone, env, image_path, Path(tmp) / f"warm{i}", predictor, resolution)
                for i in range(warm_runs)]
    median = sorted(warm, key=lambda run: run["wall_s"])[len(warm) // 2]
    return {"resolution": resolution, "predictor": predictor, "first_s": first["wall_s"],
            "warm_s": median["wall_s"], "warm_runs_s": [run["wall_s"] for run in warm],
            "first_over_warm": round(first["wall_s"] / median["wall_s"], 2),
            "first_stages_s": first["stages_s"], "warm_median_stages_s": median["stages_s"],
            "numba_cache_files_after_first": numba_files}


def _cli_run(clone: Path, env: dict, image: Path, out: Path, predictor: str,
             resolution: int) -> dict:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "backend", "reconstruct", str(image.resolve()), "-o",
                    str(out), "--resolution", str(resolution), "--predictor", predictor],
                   cwd=clone, env=env, check=True, capture_output=True)
    wall = time.perf_counter() - start
    result = json.loads((out / image.stem / "result.json").read_text())
    return {"wall_s": round(wall, 3), "stages_s": result["timings_s"]}


SECTIONS = ("stages", "grid", "server_vs_cli", "first_run")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path, default=ROOT / "examples" / "apple.jpg")
    parser.add_argument("--predictor", default="baseline")
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--warm-runs", type=int, default=3,
                        help="first_run: warm runs after the first (the median is used)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="run only these sections (default: all)")
    args = parser.parse_args()
    image = args.image.read_bytes()
    sections = {
        "stages": lambda: stage_timings(image, args.predictor, args.resolution),
        "grid": lambda: grid_comparison(image, args.predictor, args.resolution),
        "server_vs_cli": lambda: server_vs_cli(args.image, args.predictor, args.resolution),
        "first_run": lambda: first_run_vs_warm(args.image, args.predictor, args.resolution,
                                               args.warm_runs),
    }
    report = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"torch {torch.__version__}, {torch.get_num_threads()} threads",
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "image": args.image.name,
    }
    for name in args.only:
        report[name] = sections[name]()
    report["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
