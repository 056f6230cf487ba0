"""Image to bundle with one photo and with four (poses given), warm: issue 35's speed target.

    .venv/bin/python scripts/bench_views.py [--data data/v1] [--shape 0ad-props__amphora_a]
        [--views 4] [--resolution 128] [--repeats 3] [--threads 2]

One process, one ``backend.pipeline.Reconstructor`` (the shipped weights, loaded once): a
warm-up job of each kind, then ``--repeats`` pairs alternating one photo / N photos, so a
shared CPU's bursts of load hit both alike. The photos are one held-out shape's data-engine
renders (its first render the reference), sent as PNG files with their alpha, with the true
azimuths and elevations given, so no pose is searched: what is left of the "poses" stage is the
coarse shape of photo 0, re-framing the photos and scoring the given poses (``search_s``, the
search's own time, is reported apart). Prints one JSON object: each run's stage timings, the
medians and the ratios N photos / one photo of the total, of the total without the search's own
time (the issue's measure) and of the total without the whole poses stage. Not a test: nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.multiview.request import ViewRequest  # noqa: E402
from backend.options import ReconstructOptions  # noqa: E402
from backend.pipeline import Reconstructor  # noqa: E402


def shape_views(data_dir: Path, split: str, shape_id: str | None, views: int
                ) -> tuple[str, list[np.ndarray], np.ndarray]:
    """(shape id, its first ``views`` renders, their [azimuth, elevation, scale]) of the named
    shape, or of the first shape of the split with that many renders."""
    manifest = json.loads((data_dir / "manifest.json").read_text())
    for rel in manifest["splits"][split]:
        with np.load(data_dir / rel, allow_pickle=False) as z:
            ids = z["shape_id"].astype(str)
            for sid in dict.fromkeys(ids):
                rows = np.flatnonzero(ids == sid)
                if (shape_id is None or sid == shape_id) and len(rows) >= views:
                    rows = rows[:views]
                    return sid, [z["image"][i] for i in rows], z["view"][rows].astype(np.float64)
    raise SystemExit(f"no {split} shape {shape_id or ''} with {views} renders in {data_dir}")


def png(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return buf.getvalue()


def requests(images: list[np.ndarray], poses: np.ndarray) -> tuple[ViewRequest, ViewRequest]:
    """The one-photo job and the N-photo job with the true relative azimuths and elevations."""
    files = tuple(png(im) for im in images)
    azimuths = tuple(float((a - poses[0, 0]) % 360.0) for a in poses[:, 0])
    elevations = tuple(float(e) for e in poses[:, 1])
    names = tuple(f"view{k}.png" for k in range(len(files)))
    return (ViewRequest.single(files[0], names[0]),
            ViewRequest(files, names, azimuths, elevations))


def timed(rec: Reconstructor, request: ViewRequest, options: ReconstructOptions) -> dict:
    """One job: its stage timings, the pose search's own time and the wall time."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = rec.run(request, options, Path(tmp) / "bundle")
        wall = time.perf_counter() - start
    search = (result.get("pose_search") or {}).get("seconds", 0.0)
    used = sum(1 for v in result.get("views", []) if v.get("used"))
    return {"wall": round(wall, 3), "search_s": search, "used": used, **result["timings_s"]}


def median(runs: list[dict], key: str) -> float:
    return round(statistics.median(r.get(key, 0.0) for r in runs), 3)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "v1")
    ap.add_argument("--split", default="test")
    ap.add_argument("--shape", help="shape id (default: the split's first with --views renders)")
    ap.add_argument("--views", type=int, default=4)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    sid, images, poses = shape_views(args.data, args.split, args.shape, args.views)
    one, many = requests(images, poses)
    options = ReconstructOptions(resolution=args.resolution)
    rec = Reconstructor(torch.device("cpu"))
    timed(rec, one, options)  # warm-up: weights, numba, caches
    timed(rec, many, options)
    runs: dict[str, list[dict]] = {"one": [], "many": []}
    for i in range(args.repeats):
        runs["one"].append(timed(rec, one, options))
        runs["many"].append(timed(rec, many, options))
        print(f"[{i + 1}/{args.repeats}] one {runs['one'][-1]['total']:.2f} s, "
              f"{args.views} photos {runs['many'][-1]['total']:.2f} s", file=sys.stderr,
              flush=True)
    stages = sorted({k for r in runs["one"] + runs["many"] for k in r} - {"used"})
    med = {kind: {k: median(rs, k) for k in stages} for kind, rs in runs.items()}
    t1 = med["one"]["total"]
    fused = runs["many"]
    out = {
        "shape": sid, "azimuths": list(many.azimuths or ()),
        "elevations": list(many.elevations or ()), "photos_used": fused[0]["used"],
        "resolution": args.resolution, "threads": args.threads, "repeats": args.repeats,
        "weights": str(rec.predictor(options.predictor).label),
        "feature_fusion": bool(getattr(rec.predictor(options.predictor), "fuses_features", False)),
        "median_s": med,
        "ratio_total": round(med["many"]["total"] / t1, 3),
        "ratio_without_search": round(statistics.median(
            r["total"] - r["search_s"] for r in fused) / t1, 3),
        "ratio_without_poses_stage": round(statistics.median(
            r["total"] - r.get("poses", 0.0) for r in fused) / t1, 3),
        "runs": runs,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__,
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
