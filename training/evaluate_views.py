"""Evaluate several photos against one on held-out shapes (issue 35), in evaluate.py's format.

    python -m training.evaluate_views --data data/v1 --split test \
        --model runs/multiview/meanmax/model.safetensors --views 1 2 4 \
        --per-source 6 --resolution 64 --out runs/eval/multiview

Each chosen shape's first sample is the reference photo; its other samples (the data engine's
other renders of the shape: random azimuths and elevations, known poses) are the extra photos,
in shard order, and ``transforms[k] = object_to_view[k] @ inv(object_to_view[0])``. Every
result is scored against the reference mesh in the reference view frame (``training.metrics``).

Predictors, one column each in ``results.json`` (``python -m training.compare`` pairs them):
``view1`` the network on the reference photo alone (its calibrated single-view settings);
``sdfN`` N photos, their SDFs intersected (``NetworkPredictor.intersected_views``);
``featN`` N photos read at every point by the view fusion (when the weights have one);
``estN`` the same N photos with nothing known of their poses: the backend's own placing (photo
0's coarse shape, the pose search over azimuths and elevations, the refusal of photos that
match nothing, the re-framing) and then the fusion, as a job without ``--azimuths`` runs;
``baseline`` the silhouette baseline on the reference and ``hullN`` its N-photo visual hull.
The inference settings (flip average, sampling, fill, depth clip) come from ``--settings-from``
(default: the shipped weights), so every column runs the same way. ``--columns`` keeps only the
named ones (a column costs its time on every shape: a re-measurement of new fusion weights needs
``view1`` and ``featN`` alone, since the other columns read no fusion tensor).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from backend.errors import BackendError
from backend.framing import to_model_input
from backend.meshing import extract_mesh
from backend.model import read_metadata
from backend.multiview.placement import ExtraPhoto, place_predicted, placed_inputs
from backend.predictors.base import Prediction
from backend.predictors.network import InferenceSettings, NetworkPredictor
from backend.predictors.silhouette import SilhouettePredictor
from training.evaluate import BASELINE, markdown, reference_mesh, summarise
from training.metrics import compare, failed_metrics

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "backend" / "weights" / "slice3d_compact.safetensors"

# a predictor column: (photos, transforms) -> Prediction
Column = Callable[[list[np.ndarray], list[np.ndarray]], Prediction]


def load_shapes(data_dir: Path, split: str, per_source: int, seed: int = 0,
                sources: list[str] | None = None) -> list[dict]:
    """Up to ``per_source`` shapes of each source (a seeded shuffle), each with all its views
    in shard order: ``images`` (uint8 renders) and ``object_to_view`` [V,4,4]."""
    manifest = json.loads((data_dir / "manifest.json").read_text())
    shapes: dict[str, dict] = {}
    for rel in manifest["splits"].get(split, []):
        with np.load(data_dir / rel, allow_pickle=False) as z:
            ids, srcs, fams = z["shape_id"].astype(str), z["source"].astype(str), z["family"]
            for i, sid in enumerate(ids):
                if sources and srcs[i] not in sources:
                    continue
                entry = shapes.setdefault(sid, {"shape_id": sid, "source": srcs[i],
                                                "family": str(fams[i]), "rows": []})
                entry["rows"].append((rel, i))
    rng = np.random.default_rng(seed)
    chosen: list[dict] = []
    counts: dict[str, int] = {}
    for j in rng.permutation(len(shapes)):
        entry = list(shapes.values())[j]
        if counts.get(entry["source"], 0) < per_source:
            counts[entry["source"]] = counts.get(entry["source"], 0) + 1
            chosen.append(entry)
    chosen.sort(key=lambda e: (e["source"], e["shape_id"]))
    for entry in chosen:
        images, poses = [], []
        for rel, i in entry.pop("rows"):
            with np.load(data_dir / rel, allow_pickle=False) as z:
                images.append(z["image"][i])
                poses.append(z["object_to_view"][i])
        entry["images"], entry["object_to_view"] = images, np.stack(poses).astype(np.float64)
    return chosen


def relative_transforms(object_to_view: np.ndarray) -> list[np.ndarray]:
    """Reference view frame -> view k's frame, for every view (the first is the identity)."""
    ref = np.linalg.inv(object_to_view[0])
    return [m @ ref for m in object_to_view]


def columns(network: NetworkPredictor, views: list[int]) -> dict[str, tuple[int, Column]]:
    """The predictor columns and how many photos each takes."""
    baseline = SilhouettePredictor(network.device)
    out: dict[str, tuple[int, Column]] = {
        "view1": (1, lambda ims, ts: network.predict(ims[0])),
        BASELINE: (1, lambda ims, ts: baseline.predict(ims[0])),
    }
    for n in (v for v in views if v > 1):
        out[f"sdf{n}"] = (n, network.intersected_views)
        if network.fuses_features:
            out[f"feat{n}"] = (n, network.predict_views)
            out[f"est{n}"] = (n, lambda ims, ts: estimated_poses(network, ims))
        out[f"hull{n}"] = (n, baseline.predict_views)
    return out


def estimated_poses(network: NetworkPredictor, photos: list[np.ndarray]) -> Prediction:
    """Photos 1.. placed as the backend places photos without poses, then fused."""
    reference = photos[0]
    prediction = network.predict(reference)
    extras = [ExtraPhoto(k, f"photo {k + 1}", np.round(np.clip(p, 0, 1) * 255).astype(np.uint8))
              for k, p in enumerate(photos[1:], start=1)]
    placement = place_predicted(network, prediction, reference, "photo 1", extras, None, None,
                                network.device)
    inputs, transforms = placed_inputs(reference, placement)
    if len(inputs) == 1:
        return prediction
    return network.predict_views(inputs, transforms)


def mesh_of(prediction: Prediction, resolution: int):
    try:
        return extract_mesh(prediction.sdf, resolution=resolution, device=torch.device("cpu"),
                            silhouette_fill=prediction.silhouette_fill)
    except BackendError:
        return None


def evaluate(args) -> dict:
    torch.set_num_threads(args.threads)
    data_dir = Path(args.data)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    network = NetworkPredictor(torch.device("cpu"), Path(args.model))
    network.settings = InferenceSettings.from_metadata(read_metadata(args.settings_from))
    cols = columns(network, args.views)
    if args.columns:
        unknown = sorted(set(args.columns) - set(cols))
        if unknown:
            raise SystemExit(f"error: no column {', '.join(unknown)}; these weights and "
                             f"--views give {', '.join(cols)}")
        cols = {name: col for name, col in cols.items() if name in args.columns}
    names = list(cols)
    shapes = [s for s in load_shapes(data_dir, args.split, args.per_source, args.seed,
                                     args.sources) if len(s["images"]) >= max(args.views)]
    print(f"{len(shapes)} {args.split} shapes with {max(args.views)}+ views from {data_dir}; "
          f"columns {names}; settings {network.settings}", flush=True)
    results, timings = [], {n: 0.0 for n in names}
    for i, s in enumerate(shapes):
        photos = [to_model_input(im) for im in s["images"]]
        transforms = relative_transforms(s["object_to_view"])
        ref = reference_mesh(data_dir, s["shape_id"], s["object_to_view"][0])
        row = {"shape_id": s["shape_id"], "source": s["source"], "family": s["family"],
               "metrics": {}}
        for name, (n, column) in cols.items():
            t0 = time.perf_counter()
            mesh = mesh_of(column(photos[:n], transforms[:n]), args.resolution)
            timings[name] += time.perf_counter() - t0
            if mesh is None or len(mesh.faces) == 0:
                row["metrics"][name] = {**failed_metrics(), "failed": True}
            else:
                row["metrics"][name] = compare(mesh, ref, seed=i)
        results.append(row)
        msg = " ".join(f"{n}={row['metrics'][n]['norm/chamfer_l1']:.4f}" for n in names
                       if row["metrics"][n].get("norm/chamfer_l1") is not None)
        print(f"[{i + 1}/{len(shapes)}] {s['source']}/{s['shape_id']} CD {msg}", flush=True)
        write_report(args, out_dir, network, names, results, timings)
    return write_report(args, out_dir, network, names, results, timings, final=True)


def write_report(args, out_dir: Path, network: NetworkPredictor, names: list[str],
                 results: list[dict], timings: dict[str, float], final: bool = False) -> dict:
    """results.json (evaluate.py's format) and results.md, rewritten after every shape so a
    run cut short still leaves what it scored."""
    summary = summarise(results, names)
    report = {
        "command": args.command, "data": str(args.data), "split": args.split,
        "resolution": args.resolution, "samples": len(results),
        "predictors": {n: str(args.model) if n not in (BASELINE,) and not n.startswith("hull")
                       else "silhouette baseline" for n in names},
        "settings": str(network.settings), "settings_from": str(args.settings_from),
        "seconds_per_sample": {n: t / max(1, len(results)) for n, t in timings.items()},
        "summary": summary, "results": results,
    }
    (out_dir / "results.json").write_text(json.dumps(report, indent=1))
    md = markdown(summary, names)
    (out_dir / "results.md").write_text(f"`{args.command}`\n{md}")
    if final:
        print(md, flush=True)
    return report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/v1")
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", required=True, help="network weights (.safetensors)")
    ap.add_argument("--settings-from", type=Path, default=SHIPPED,
                    help="weights whose inference settings every network column uses")
    ap.add_argument("--views", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--per-source", type=int, default=6, help="shapes per source")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--out", default="runs/eval/multiview")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", nargs="*", default=None, help="only these sources")
    ap.add_argument("--columns", nargs="*", default=None,
                    help="only these columns (e.g. view1 feat2 feat4; default: every one)")
    args = ap.parse_args(argv)
    if min(args.views) < 1 or 1 not in args.views:
        raise SystemExit("error: --views counts photos, from 1, and must include 1")
    if not Path(args.model).is_file():
        raise SystemExit(f"error: no weights at {args.model}")
    args.command = "python -m training.evaluate_views " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    evaluate(args)


if __name__ == "__main__":
    main()
