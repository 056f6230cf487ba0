"""Inference benchmark of the network predictor: image to bundle (warm) and the feature-cache gain.

    python -m training.bench_inference [--weights backend/weights/slice3d_compact.safetensors]
        [--image examples/apple.jpg] [--threads 2] [--device cuda]

Prints one JSON object: warm image-to-bundle wall time (fastest of ``--repeats`` runs) at 128^3
and 256^3 effective resolution (through ``backend.pipeline.Reconstructor``, stage by stage), the
same with the job option ``flip_average=off`` (alternated with it, and their ratio), and,
from the same run, the time of the SDF grid at 128^3 with image features cached once (what the
predictor does) against re-running the image network for every chunk of query points (what the
original does), as a ratio. Both sides use the predictor's chunk size by default, so the ratio
measures the cache alone (``--chunk 3000`` mimics the original's chunks, which changes the
per-point cost as well). The bundle times use the weights' inference
settings (the flip average doubles the SDF work); the cache ratio runs the plain network on both
sides. The same loop times the plain network with bicubic feature sampling, for its cost over
bilinear, and the silhouette fill on the plain 128^3 grid, against that grid's time: on the
example, where the network's surface may miss no ray (the cost of looking), and on a thin spoked
wheel (``--thin-image``), where most rays are missed (the cost of filling).

``--against OLD_TREE`` times image to bundle instead in two warm worker processes, one importing
the backend of OLD_TREE (e.g. a ``git worktree`` of the previous commit) and one this tree's,
driven in turns (old, new, old, new, ...) so that a shared CPU's bursts of load hit both alike,
and prints each side's runs, their medians and the ratio old / new per resolution, of the wall
time and of the process CPU time (with one thread, the CPU time is the work done: far less
moved by other processes on a loaded machine than the wall time). Both load
``--weights``, so only the code differs. It also checks the meshes: the faces of each side and
the Chamfer-L1 between the old and the new mesh against the old mesh with itself, sampled
anew (the sampling noise floor, ``MESH_SAMPLES`` points a side).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import cast

import numpy as np
import torch
import trimesh
from scipy.spatial import cKDTree

from backend.device import resolve_device
from backend.foreground import extract_foreground, mask_providers
from backend.framing import frame_object, to_model_input
from backend.intake import load_image
from backend.meshing import evaluate_coarse_to_fine
from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor
from backend.predictors.network import QUERY_CHUNK, InferenceSettings, NetworkPredictor
from backend.silhouette_fill import SilhouetteFill, fill_missed_rays

MESH_SAMPLES = 100_000  # points per mesh for the old/new Chamfer-L1 of --against

FILL_HALF_THICKNESS = 0.04  # timed with the shipped value when the weights carry none

REPO = Path(__file__).resolve().parent.parent


def _parse(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=str(REPO / "backend/weights/slice3d_compact.safetensors"))
    ap.add_argument("--image", default=str(REPO / "examples/apple.jpg"))
    ap.add_argument("--thin-image", default=str(REPO / "examples/wheel.png"),
                    help="a picture whose thin parts the network loses, to time the fill at work")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"),
                    help="the targets are the CPU's; cuda times a GPU when one is present")
    ap.add_argument("--chunk", type=int, default=QUERY_CHUNK,
                    help="points per chunk when the image network is re-run per chunk")
    ap.add_argument("--resolutions", type=int, nargs="*", default=[128, 256])
    ap.add_argument("--repeats", type=int, default=3,
                    help="runs of each measure; the fastest counts (a shared CPU only adds time)")
    ap.add_argument("--against", metavar="OLD_TREE",
                    help="time image to bundle here against OLD_TREE's backend, in turns")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = _parse(argv)
    if args.against:
        print(json.dumps(compare_trees(Path(args.against), REPO, args.image, args.resolutions,
                                       args.repeats, args.threads, Path(args.weights)), indent=1))
    else:
        _bench(args)


def _bench(args: argparse.Namespace) -> None:
    """The full benchmark of this tree (the module docstring's list)."""
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = Path(args.image).read_bytes()
    out: dict = {"machine": platform.processor() or platform.machine(),
                 "threads": torch.get_num_threads(), "image": args.image,
                 "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                 "mask_providers": mask_providers(device.type)}
    clock = synced_clock(device)

    rec = Reconstructor(device)
    with tempfile.TemporaryDirectory() as tmp:
        rec.run(data, ReconstructOptions(resolution=64, predictor="network"), Path(tmp) / "warmup")
        for res in args.resolutions:
            walls: dict[str, list[float]] = {"auto": [], "off": []}
            best: dict[str, dict] = {}
            for k in range(args.repeats):  # alternated, so a burst of load hits both alike
                for mode in walls:
                    opts = ReconstructOptions(resolution=res, predictor="network",
                                              flip_average=mode)
                    t0 = clock()
                    result = rec.run(data, opts, Path(tmp) / f"warm{res}_{mode}_{k}")
                    walls[mode].append(clock() - t0)
                    if walls[mode][-1] == min(walls[mode]):
                        best[mode] = result
            for mode, key in (("auto", f"bundle_{res}"), ("off", f"bundle_{res}_flip_off")):
                out[key] = {"wall_s": round(min(walls[mode]), 3),
                            "all_runs_s": [round(w, 3) for w in walls[mode]],
                            "stages_s": best[mode]["timings_s"], "mesh": best[mode]["mesh"]}
            out[f"flip_off_speedup_{res}"] = round(min(walls["auto"]) / min(walls["off"]), 2)

    image = model_input(data)
    pred = NetworkPredictor(device, Path(args.weights))
    out["inference_settings"] = asdict(pred.settings)
    bilinear = InferenceSettings()  # the cache ratio compares one network pass per point
    bicubic = InferenceSettings(feature_sampling="bicubic")
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].to(device)

    def cached_run(settings: InferenceSettings = bilinear):
        pred.settings = settings
        p = pred.predict(image)
        return evaluate_coarse_to_fine(p.sdf, 128, device)

    @torch.no_grad()
    def rerun_sdf(points: torch.Tensor) -> torch.Tensor:
        res = []
        for i in range(0, points.shape[0], args.chunk):  # the image network again per chunk
            feats = pred.model.encode(x)
            res.append(pred.model.query(feats, points[i : i + args.chunk][None])[0])
        return torch.cat(res)

    grid = cached_run()
    cached, rerun, cubic = float("inf"), float("inf"), float("inf")
    for _ in range(args.repeats):  # alternated, so a burst of load hits every side alike
        t0 = clock()
        cached_run()
        cached = min(cached, clock() - t0)
        t0 = clock()
        evaluate_coarse_to_fine(rerun_sdf, 128, device)
        rerun = min(rerun, clock() - t0)
        t0 = clock()
        cached_run(bicubic)
        cubic = min(cubic, clock() - t0)
    out["feature_cache_128"] = {
        "evaluations": grid.evaluations, "cached_s": round(cached, 3),
        f"rerun_per_{args.chunk}_points_s": round(rerun, 3), "speedup": round(rerun / cached, 2),
    }
    out["bicubic_sampling_128"] = {"bilinear_s": round(cached, 3), "bicubic_s": round(cubic, 3),
                                   "cost_ratio": round(cubic / cached, 2)}
    half_thickness = pred.settings.silhouette_fill or FILL_HALF_THICKNESS
    thin = model_input(Path(args.thin_image).read_bytes())
    pred.settings = bilinear
    thin_grid = evaluate_coarse_to_fine(pred.predict(thin).sdf, 128, device)
    out["silhouette_fill_128"] = {
        "half_thickness": half_thickness,
        "example": timed_fill(grid, image, half_thickness, cached, args.repeats, clock),
        "thin": timed_fill(thin_grid, thin, half_thickness, cached, args.repeats, clock),
    }
    print(json.dumps(out, indent=1))


# One warm Reconstructor per process: reads "RESOLUTION OUT_DIR" lines, answers one JSON line each.
_WORKER = """
import json, sys, time, torch
from pathlib import Path
from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor
from backend.predictors import load_predictor
torch.set_num_threads(int(sys.argv[2]))
data = Path(sys.argv[1]).read_bytes()
rec = Reconstructor(torch.device("cpu"))
rec._predictors["network"] = load_predictor("network", rec.device, Path(sys.argv[3]))
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    res, out = line.split()
    t0, c0 = time.perf_counter(), time.process_time()
    r = rec.run(data, ReconstructOptions(resolution=int(res), predictor="network"), Path(out))
    print(json.dumps({"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                      "stages_s": r["timings_s"],
                      "faces": r["mesh"]["faces"], "evaluations": r["evaluations"]}), flush=True)
"""


def compare_trees(old: Path, new: Path, image: str, resolutions: list[int], rounds: int,
                  threads: int, weights: Path) -> dict:
    """Warm image to bundle, OLD_TREE's backend against this one's, alternated run by run, both
    with ``weights``; and the two sides' last meshes compared (``mesh_difference``)."""
    workers = {}
    for side, tree in (("old", old), ("new", new)):
        env = dict(os.environ, PYTHONPATH=str(tree))
        workers[side] = subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(Path(image).resolve()), str(threads),
             str(weights.resolve())], cwd=tree,
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out: dict = {"machine": platform.processor() or platform.machine(), "threads": threads,
                 "image": image, "weights": str(weights), "old": str(old), "new": str(new),
                 "load_before": os.getloadavg()}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for worker in workers.values():
                json.loads(_ask(worker, None))
                _ask(worker, f"64 {tmp}/warmup{id(worker)}")
            for res in resolutions:
                runs: dict[str, list[dict]] = {"old": [], "new": []}
                for k in range(rounds):
                    for side, worker in workers.items():
                        runs[side].append(json.loads(_ask(worker, f"{res} {tmp}/{side}{res}_{k}")))
                walls = {side: [r["wall_s"] for r in rs] for side, rs in runs.items()}
                cpus = {side: [r["cpu_s"] for r in rs] for side, rs in runs.items()}
                out[f"bundle_{res}"] = {
                    **{side: {"median_s": round(statistics.median(w), 3),
                              "runs_s": [round(x, 3) for x in w],
                              "cpu_runs_s": [round(x, 3) for x in cpus[side]],
                              "stages_s_last": runs[side][-1]["stages_s"],
                              "faces": runs[side][-1]["faces"],
                              "evaluations": runs[side][-1]["evaluations"]}
                       for side, w in walls.items()},
                    "ratio_old_over_new_median": round(statistics.median(walls["old"])
                                                       / statistics.median(walls["new"]), 2),
                    "ratio_per_pair": [round(a / b, 2) for a, b in zip(walls["old"], walls["new"],
                                                                       strict=True)],
                    "cpu_ratio_old_over_new_median": round(statistics.median(cpus["old"])
                                                           / statistics.median(cpus["new"]), 2),
                    "mesh": mesh_difference(Path(tmp) / f"old{res}_{rounds - 1}/mesh.glb",
                                            Path(tmp) / f"new{res}_{rounds - 1}/mesh.glb"),
                }
    finally:
        for worker in workers.values():
            worker.stdin.close()  # type: ignore[union-attr]
            worker.wait(timeout=60)
    out["load_after"] = os.getloadavg()
    return out


def chamfer_l1(a: trimesh.Trimesh, b: trimesh.Trimesh, seeds: tuple[int, int] = (0, 1),
               n: int = MESH_SAMPLES) -> float:
    """Chamfer-L1 (ARCHITECTURE.md section 9) between surface samples of a and b."""
    pa = trimesh.sample.sample_surface(a, n, seed=seeds[0])[0]
    pb = trimesh.sample.sample_surface(b, n, seed=seeds[1])[0]
    return float(0.5 * (cKDTree(pb).query(pa)[0].mean() + cKDTree(pa).query(pb)[0].mean()))


def mesh_difference(old_glb: Path, new_glb: Path) -> dict:
    """The old and the new mesh: faces, identical or not, and their Chamfer-L1 against the
    noise floor (the old mesh against itself with the new side's samples: the same seeds)."""
    old, new = (cast(trimesh.Trimesh, trimesh.load(p, force="mesh")) for p in (old_glb, new_glb))
    same = bool(len(old.faces) == len(new.faces) and np.array_equal(old.faces, new.faces)
                and np.array_equal(old.vertices, new.vertices))
    return {"faces": [len(old.faces), len(new.faces)], "identical": same,
            "largest_vertex_shift": (float(np.abs(old.vertices - new.vertices).max())
                                     if old.vertices.shape == new.vertices.shape else None),
            "chamfer_l1_old_new": round(chamfer_l1(old, new), 7),
            "chamfer_l1_old_old": round(chamfer_l1(old, old), 7)}


def _ask(worker: subprocess.Popen, line: str | None) -> str:
    if line is not None:
        worker.stdin.write(line + "\n")  # type: ignore[union-attr]
        worker.stdin.flush()  # type: ignore[union-attr]
    answer = worker.stdout.readline()  # type: ignore[union-attr]
    if not answer:
        raise RuntimeError(f"a benchmark worker stopped (exit code {worker.wait()})")
    return answer


def synced_clock(device: torch.device):
    """perf_counter that first waits for the GPU's queued work: CUDA calls return early."""
    if device.type != "cuda":
        return time.perf_counter

    def clock() -> float:
        torch.cuda.synchronize(device)
        return time.perf_counter()

    return clock


def model_input(data: bytes) -> np.ndarray:
    """The framed model input of an encoded image, as the pipeline makes it."""
    loaded = load_image(data)
    cutout, _ = extract_foreground(loaded.rgba, loaded.has_alpha)
    return to_model_input(frame_object(cutout))


def timed_fill(grid, image: np.ndarray, half_thickness: float, grid_s: float, repeats: int,
               clock=time.perf_counter) -> dict:
    """The fastest of ``repeats`` silhouette fills of the grid, and its share of a grid's time."""
    fill = SilhouetteFill(image[..., 3] > 0.5, half_thickness)
    best = float("inf")
    for _ in range(repeats):
        t0 = clock()
        _, missed = fill_missed_rays(grid, fill)
        best = min(best, clock() - t0)
    return {"fill_s": round(best, 3), "missed_rays": missed, "mask_rays": int(fill.mask.sum()),
            "share_of_grid": round(best / grid_s, 2)}


if __name__ == "__main__":
    main()
