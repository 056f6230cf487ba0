"""Choose the network's inference settings on a validation split and write them into its weights.

The settings (``backend.predictors.network.InferenceSettings``): average the SDF over the image
and its mirror image or not, how far to grow the surface, whether (and how loosely) to cut it
to the predicted box in depth, and how to interpolate the image maps (bilinear or bicubic).
Every combination is meshed like the backend does and scored against the reference meshes
(normalised Chamfer-L1, ARCHITECTURE.md 9); the best one is written into a copy of the weights
(metadata ``slice3d_inference``). Calibrate on a validation split only: the test split stays
for the report.

    python -m training.calibrate --weights runs/slice3d_e/model.safetensors \\
        --data data/v1 --split val --sources 0ad everyday pybullet --per-source 10 \\
        --out runs/slice3d_e/model_calibrated.safetensors
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from pathlib import Path

import numpy as np
import torch

from backend.errors import BackendError
from backend.framing import to_model_input
from backend.meshing import extract_mesh
from backend.model import load_weights, read_metadata, save_weights
from backend.model.network import SAMPLINGS
from backend.predictors.network import InferenceSettings, NetworkPredictor
from training.evaluate import load_test, reference_mesh
from training.metrics import compare, failed_metrics

KEY = "norm/chamfer_l1"
NO_SURFACE_CHAMFER = 1.0  # a setting that loses the surface scores as if off by the whole object


def score_settings(weights: Path, samples: list[dict], data_dir: Path,
                   settings: list[InferenceSettings], resolution: int) -> dict:
    """Mean metrics of every setting over the samples: {setting: {metric: mean}}."""
    device = torch.device("cpu")
    pred = NetworkPredictor(device, weights)  # one network; each setting is read at predict()
    rows: dict[InferenceSettings, list[dict]] = {s: [] for s in settings}
    for i, sample in enumerate(samples):
        ref = reference_mesh(data_dir, sample["shape_id"], sample["object_to_view"])
        image = to_model_input(sample["image"])
        for s in settings:
            pred.settings = s
            try:
                p = pred.predict(image)
                mesh = extract_mesh(p.sdf, resolution=resolution, device=device,
                                    silhouette_fill=p.silhouette_fill)
                m = compare(mesh, ref, seed=i, iou=False)  # IoU is not chosen on: skip it
            except BackendError:
                m = failed_metrics()
            if m[KEY] is None:
                m[KEY] = NO_SURFACE_CHAMFER
            rows[s].append(m)
        best = min(settings, key=lambda s: rows[s][-1][KEY])
        print(f"[{i + 1}/{len(samples)}] {sample['source']}/{sample['shape_id']}: best {best}",
              flush=True)
    keys = (KEY, "norm/f@0.05", "norm/f@0.01")
    return {s: {k: float(np.mean([r[k] for r in rows[s]])) for k in keys} for s in settings}


def depth_clip(text: str) -> float | None:
    """A ``--depth-clips`` value: 'off' (no cut) or a widening fraction >= 0."""
    if text.lower() == "off":
        return None
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"a depth clip widens the box: {text} is below 0")
    return value


def silhouette_fill(text: str) -> float | None:
    """A ``--fills`` value: 'off' (no fill) or a sheet half-thickness above 0."""
    if text.lower() == "off":
        return None
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"a fill sheet needs a half-thickness above 0, not {text}")
    return value


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("data/v1"))
    ap.add_argument("--split", default="val")
    ap.add_argument("--sources", nargs="*", default=None)
    ap.add_argument("--per-source", type=int, default=10)
    ap.add_argument("--offsets", type=float, nargs="+", default=[0.0, 0.005, 0.01])
    ap.add_argument("--depth-clips", type=depth_clip, nargs="+", default=[None, 0.1, 0.2],
                    help="widenings of the depth cut to try; 'off' for no cut")
    ap.add_argument("--samplings", nargs="+", choices=SAMPLINGS, default=["bilinear"],
                    help="feature interpolations to try")
    ap.add_argument("--fills", type=silhouette_fill, nargs="+", default=[None],
                    help="silhouette-fill sheet half-thicknesses to try; 'off' for no fill")
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dtype", choices=["fp16", "fp32"], default="fp32")
    args = ap.parse_args(argv)
    if args.split == "test":
        ap.error("calibrating on the test split would tune to the report: use val")
    torch.set_num_threads(args.threads)
    samples = load_test(args.data, args.split, args.per_source, 0, args.sources)
    settings = [InferenceSettings(flip_average=f, surface_offset=o, depth_clip=c,
                                  feature_sampling=m, silhouette_fill=h)
                for f, o, c, m, h in itertools.product(
                    (False, True), args.offsets, args.depth_clips, args.samplings, args.fills)]
    t0 = time.time()
    scores = score_settings(args.weights, samples, args.data, settings, args.resolution)
    best = min(settings, key=lambda s: scores[s][KEY])
    print(f"{len(samples)} {args.split} samples, {time.time() - t0:.0f} s")
    print("| flip average | surface offset | depth clip | sampling | silhouette fill | Chamfer-L1 "
          "| F@0.05 | F@0.01 |\n|---|---|---|---|---|---|---|---|")
    for s in settings:
        m = scores[s]
        mark = " **chosen**" if s == best else ""
        print(f"| {s.flip_average} | {s.surface_offset} | {s.depth_clip} | {s.feature_sampling} | "
              f"{s.silhouette_fill} | {m[KEY]:.4f}{mark} | {m['norm/f@0.05']:.3f} | "
              f"{m['norm/f@0.01']:.3f} |")
    model = load_weights(args.weights)
    info = json.loads(read_metadata(args.weights).get("slice3d_info", "{}"))
    plain = scores.get(InferenceSettings())  # the network as it is, if the grid holds it
    info["calibration"] = {"data": str(args.data), "split": args.split, "samples": len(samples),
                           "sources": args.sources,
                           "chamfer_before": plain[KEY] if plain else None,
                           "chamfer_after": scores[best][KEY]}
    dtype = torch.float16 if args.dtype == "fp16" else torch.float32
    save_weights(model, args.out, dtype=dtype, info=info, metadata=best.to_metadata())
    print(f"wrote {args.out} with {best}")


if __name__ == "__main__":
    main()
