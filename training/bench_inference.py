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
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from backend.device import resolve_device
from backend.foreground import extract_foreground
from backend.framing import frame_object, to_model_input
from backend.intake import load_image
from backend.meshing import evaluate_coarse_to_fine
from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor
from backend.predictors.network import QUERY_CHUNK, InferenceSettings, NetworkPredictor
from backend.silhouette_fill import SilhouetteFill, fill_missed_rays

FILL_HALF_THICKNESS = 0.04  # timed with the shipped value when the weights carry none

REPO = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> None:
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
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = Path(args.image).read_bytes()
    out: dict = {"machine": platform.processor() or platform.machine(),
                 "threads": torch.get_num_threads(), "image": args.image,
                 "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
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
