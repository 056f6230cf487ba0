"""Colour error of the backend's textured mesh against its old vertex colours (issue 34).

    python -m training.texture_eval --data data/sh3d --split val --per-source 8 \
        --out runs/eval/texture_val

For each sample the real backend (``backend.pipeline.Reconstructor``, in-process, the input's own
alpha as the mask) reconstructs the sample's input image twice: with the baked texture and with
``vertex_colors``. The reference is the data engine's own textured shape, reloaded exactly as
``training/data/build.py`` built it (same source, same seed) and checked against the shard's
``meshes/`` copy, then moved into the view frame by ``object_to_view``. All three are rendered
under one light from four cameras (``training.texture_render.VIEWS``); the error per view is the
mean CIEDE2000 over the pixels both the reference and the prediction cover. The summary gives
per-view means and the paired relative change (texture against vertex colours) with a 95%
interval from redrawing whole shapes (``training.compare.paired_difference``).

``--model PATH`` runs both modes on those network weights instead of the shipped ones (a run's
``model.safetensors``, never shipped), with the inference settings of ``--settings-from``'s
metadata when given (a training run's weights carry none). Weights with a colour head paint the
unseen texels with it; their SDF is the shipped one bit for bit when the head was trained alone
on the shipped network, so the vertex mode is today's and the texture mode is the new one.

    python -m training.texture_eval --data data/sh3d --split val --per-source 8 \
        --model runs/colour/mlp/model.safetensors \
        --settings-from backend/weights/slice3d_compact.safetensors --out runs/eval/colour_val

``--views N`` gives each job the sample's shape's other views (the next N - 1 renders of the same
shape in its shard, in shard order) as extra photos with their true poses: azimuths relative to
the sample's own, each view's elevation, through the ``ViewRequest`` a several-photo job takes.
The reference and the four render cameras stay the sample's (photo 0's) view frame. Paired with
a one-photo run it measures what the other photos add to the hidden side's colour:

    python -m training.texture_eval --data data/sh3d --split val --per-source 3 --modes texture \
        --resolution 64 --threads 1 --out runs/eval/tex_views1
    python -m training.texture_eval --data data/sh3d --split val --views 4 --modes texture \
        --resolution 64 --threads 1 --pair-with runs/eval/tex_views1/results.json \
        --out runs/eval/tex_views4

``--modes vertex texture oracle`` adds a ceiling: the texture with the unseen texels painted in
the reference's own colour (the albedo at the closest point of the true surface) instead of the
guess. Everything else (mesh, photo where seen, de-lighting, blend) is the texture mode's, so the
oracle against the texture is what a perfect colour guess could still gain on this mesh, and the
oracle against vertex colours says whether the issue's hidden-side target is within reach of
colour alone:

    python -m training.texture_eval --data data/sh3d --split val --modes vertex texture oracle \
        --per-source 40 --shapes ID ... --out runs/eval/texture_oracle

``--pair-with RESULTS.json ...`` reruns exactly the kept samples of earlier runs (same shard
and index) and pairs them: with ``--modes texture`` only the texture is made again, the
vertex colours' scores are the earlier run's (the same mesh when the SDF is unchanged), and the
earlier texture's scores come along as ``median`` (the bake before the colour head), with a
second summary of the new texture against it.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from backend.contract import MAX_VIEWS
from backend.framing import frame_object
from backend.geometry import MODEL_INPUT_SIZE
from backend.model import read_metadata
from backend.multiview.request import ViewRequest
from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor
from backend.predictors import NETWORK_WEIGHTS, Predictor
from backend.predictors.base import ColourFunction, Prediction
from backend.predictors.network import InferenceSettings, NetworkPredictor
from training.compare import Scores, paired_difference
from training.data.colors import SurfaceIndex
from training.data.mesh import ShapeMesh
from training.data.sources import get_source
from training.data.sources.base import Shape, stable_seed
from training.evaluate import load_test
from training.texture_render import (
    VIEWS,
    Render,
    albedo,
    colour_error,
    coverage_iou,
    load_bundle_mesh,
    moved,
    render,
)
from training.texture_sheet import write_sheet

MODES = (("vertex", True), ("texture", False), ("oracle", False))  # (name, vertex_colors)
DEFAULT_MODES = ("vertex", "texture")
SHEET_VIEWS = ("input", "side", "back")


def reference_shape(data_dir: Path, source: str, shape_id: str) -> ShapeMesh:
    """The textured shape as the data build made it (its seed), refused if its geometry is not
    the shard's evaluation mesh (the source files or the loader changed since the build)."""
    shape = get_source(source).load(shape_id, np.random.default_rng(stable_seed(shape_id, "build")))
    if not isinstance(shape, Shape):
        raise ValueError(f"{shape_id}: the source drops it now ({shape.reason})")
    with np.load(data_dir / "meshes" / f"{shape_id}.npz") as z:
        same = (z["faces"].shape == shape.mesh.faces.shape
                and np.abs(z["vertices"] - shape.mesh.vertices).max() < 1e-4)
    if not same:
        raise ValueError(f"{shape_id}: the reloaded shape differs from meshes/{shape_id}.npz")
    return shape.mesh


def reframed(image: np.ndarray) -> bool:
    """Whether the backend re-frames this input (an object touching the border, say): then its
    mesh is in the view frame of a different, virtual camera and cannot be laid over the
    reference, so such samples are left out of the summary (and counted)."""
    def box(rgba: np.ndarray) -> np.ndarray:
        rows, cols = np.nonzero(rgba[..., 3] > 127)
        return np.array([rows.min(), rows.max() + 1, cols.min(), cols.max() + 1], np.float64)

    framed = frame_object(image, MODEL_INPUT_SIZE)
    # 4 px: resampling moves a thin object's box by up to 3 px; re-framing moves it by tens
    return bool(np.abs(box(image) * MODEL_INPUT_SIZE / image.shape[0] - box(framed)).max() > 4)


def appearance(mesh: ShapeMesh) -> str:
    """What the reference's colour rests on. Only "texture" is the colour the input image shows:
    the data engine paints a shape without one with a random look (patterns, triplanar textures
    tinting its vertex colours) that the shard does not keep, so "vertex" and "none" references
    are not the truth and are left out of the summary (and counted)."""
    if mesh.texture is not None and mesh.uv is not None:
        return "texture"
    return "vertex" if mesh.vertex_colors is not None else "none"


class OracleNetwork(NetworkPredictor):
    """The network whose unseen-colour guess can be replaced by ``oracle`` (the oracle mode)."""

    oracle: ColourFunction | None = None

    def colour_function(self, prediction: Prediction) -> ColourFunction | None:
        return self.oracle if self.oracle is not None else super().colour_function(prediction)


class ModelReconstructor(Reconstructor):
    """The backend with every job's predictor fixed to given network weights (``--model``, or
    the shipped ones for the oracle mode)."""

    def __init__(self, device: torch.device, weights: Path,
                 settings_from: Path | None = None) -> None:
        super().__init__(device)
        self.network = OracleNetwork(device, weights)
        if settings_from is not None:
            self.network.settings = InferenceSettings.from_metadata(read_metadata(settings_from))

    def predictor(self, kind: str) -> Predictor:
        return self.network


def make_reconstructor(args: argparse.Namespace) -> Reconstructor:
    """The shipped backend, or one fixed to ``--model`` (with ``--settings-from``'s settings);
    the oracle mode fixes it to the shipped weights, whose colour guess it can replace."""
    cpu = torch.device("cpu")
    if args.model is None:
        if args.settings_from is not None:
            raise SystemExit("error: --settings-from goes with --model")
        if "oracle" in args.modes:
            return ModelReconstructor(cpu, NETWORK_WEIGHTS)
        return Reconstructor(cpu)
    return ModelReconstructor(cpu, Path(args.model),
                              None if args.settings_from is None else Path(args.settings_from))


def true_colour(ref: ShapeMesh) -> ColourFunction:
    """The reference's albedo (sRGB 0..1) at the surface point closest to each point (the data
    engine's own closest-point index, ``training.data.colors.SurfaceIndex``)."""
    index = SurfaceIndex(ref)

    def colour_at(query: np.ndarray) -> np.ndarray:
        face, bary, _ = index.closest(np.asarray(query, np.float64).reshape(-1, 3))
        return np.clip(albedo(ref, face, bary), 0.0, 1.0)

    return colour_at


def png_bytes(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(buf, format="PNG")
    return buf.getvalue()


@dataclass(frozen=True)
class Photos:
    """A job's photos: the sample's image first, then its shape's other views (true poses)."""

    images: list[np.ndarray]
    azimuths: tuple[float, ...]  # relative to the first photo's (0)
    elevations: tuple[float, ...]

    @classmethod
    def single(cls, image: np.ndarray) -> Photos:
        return cls([image], (0.0,), (0.0,))


def shape_photos(data_dir: Path, sample: dict, count: int) -> Photos:
    """The sample's image and up to ``count - 1`` other views of its shape from its shard (the
    data engine writes a shape's views one after another), with the shard's ``view`` poses."""
    if count <= 1:
        return Photos.single(sample["image"])
    with np.load(data_dir / sample["shard"], allow_pickle=False) as z:
        ids, views = z["shape_id"].astype(str), z["view"].astype(np.float64)
        others = [int(i) for i in np.flatnonzero(ids == sample["shape_id"])
                  if i != sample["index"]][:count - 1]
        images = [sample["image"]] + [z["image"][i] for i in others]
    pick = [sample["index"], *others]
    azimuths = tuple(float((views[i, 0] - views[pick[0], 0]) % 360.0) for i in pick)
    return Photos(images, azimuths, tuple(float(views[i, 1]) for i in pick))


def reconstruct(rec: Reconstructor, photos: Photos, options: ReconstructOptions,
                work: Path) -> ShapeMesh:
    """One real backend job into a bundle folder; its mesh.glb as a coloured mesh. Several
    photos go as one several-photo job with their poses given."""
    out = work / ("vertex" if options.vertex_colors else "texture")
    if len(photos.images) == 1:
        job: bytes | ViewRequest = png_bytes(photos.images[0])
    else:
        job = ViewRequest(tuple(png_bytes(i) for i in photos.images),
                          tuple(f"view{k}.png" for k in range(len(photos.images))),
                          photos.azimuths, photos.elevations)
    result = rec.run(job, options, out)
    if options.vertex_colors is False and result["texture"] is None:
        raise RuntimeError(f"no texture was made: {result['warnings']}")
    if not all(v["used"] for v in result.get("views", [])):
        raise RuntimeError(f"a photo was left out: {result['warnings']}")
    return load_bundle_mesh(out / "mesh.glb")


def score_sample(ref: ShapeMesh, preds: dict[str, ShapeMesh], size: int) -> tuple[dict, dict]:
    """Per view and mode: the colour error and covered pixels; and the renders (for the sheet)."""
    scores: dict = {}
    renders: dict[str, dict[str, Render]] = {"reference": {}}
    for view, az, el in VIEWS:
        r_ref = render(ref, az, el, size)
        renders["reference"][view] = r_ref
        for name, mesh in preds.items():
            r = render(mesh, az, el, size)
            renders.setdefault(name, {})[view] = r
            err, n = colour_error(r_ref, r)
            scores[f"{name}/{view}"] = err
            scores[f"{name}/{view}/pixels"] = n
            scores[f"{name}/{view}/iou"] = coverage_iou(r_ref, r)
    return scores, renders


def run_samples(args: argparse.Namespace, samples: list[dict]) -> tuple[list[dict], list[dict]]:
    """Every sample through both backend modes and the renderer; rows and sheet rows."""
    rec = make_reconstructor(args)
    refs: dict[str, ShapeMesh] = {}
    rows, sheet = [], []
    for k, s in enumerate(samples):
        t = time.perf_counter()
        sid = s["shape_id"]
        if sid not in refs:
            refs[sid] = reference_shape(Path(args.data), s["source"], sid)
        ref = moved(refs[sid], s["object_to_view"])
        photos = shape_photos(Path(args.data), s, args.views)
        preds = {}
        with tempfile.TemporaryDirectory() as tmp:
            for name, vc in [m for m in MODES if m[0] in args.modes]:
                if isinstance(rec, ModelReconstructor):
                    rec.network.oracle = true_colour(ref) if name == "oracle" else None
                opts = ReconstructOptions(resolution=args.resolution, background="alpha",
                                          predictor=args.predictor, vertex_colors=vc)
                preds[name] = reconstruct(rec, photos, opts, Path(tmp) / name)
        scores, renders = score_sample(ref, preds, args.size)
        rows.append({"shape_id": sid, "source": s["source"], "family": s["family"],
                     "shard": s["shard"], "index": s["index"], "photos": len(photos.images),
                     "reframed": reframed(s["image"]), "appearance": appearance(refs[sid]),
                     **scores})
        if (len(sheet) < args.sheet_rows and all(r["label"] != sid for r in sheet)
                and rows[-1]["appearance"] == "texture" and not rows[-1]["reframed"]):
            sheet.append({"label": sid, "renders": renders})
        print(f"[{k + 1}/{len(samples)}] {sid}: " + ", ".join(
            f"{v} {_fmt(scores.get(f'vertex/{v}'))}->{_fmt(scores.get(f'texture/{v}'))}"
            for v, _, _ in VIEWS) + f" ({time.perf_counter() - t:.1f} s)", flush=True)
    return rows, sheet


def _fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


SIDE_BACK = "side+back"  # the target: the views the input camera cannot see


def _view_scores(r: dict, mode: str) -> dict:
    got = {v: r[f"{mode}/{v}"] for v, _, _ in VIEWS}
    pair = (got["side"], got["back"])
    got[SIDE_BACK] = None if None in pair else (pair[0] + pair[1]) / 2
    return got


def summarise(rows: list[dict], draws: int = 2000, before: str = "vertex",
              after: str = "texture") -> list[dict]:
    """Per view and side+back (all sources, then each source): means and the paired relative
    change of ``after`` (the texture, or the oracle) against ``before`` (vertex colours, the
    earlier texture ``median``, or the texture), shape-clustered bootstrap interval (95%). Rows
    without both modes' scores (a run of one mode alone) are left out: alone, such a run has no
    summary. The keys say vertex and texture for ``before`` and ``after`` whichever they are."""
    rows = [r for r in rows if f"{before}/input" in r and f"{after}/input" in r]
    ids, srcs = [r["shape_id"] for r in rows], [r["source"] for r in rows]
    a = Scores(before, ids, srcs, [_view_scores(r, before) for r in rows])
    b = Scores(after, ids, srcs, [_view_scores(r, after) for r in rows])
    out = []
    for group in ["all", *dict.fromkeys(srcs)]:
        for view in [v for v, _, _ in VIEWS] + [SIDE_BACK]:
            d = paired_difference(a, b, view, group, draws)
            if d is None:
                continue
            keep = [i for i in range(len(rows)) if group in ("all", srcs[i])]
            wins = sum(1 for i in keep if None not in (a.metrics[i][view], b.metrics[i][view])
                       and b.metrics[i][view] < a.metrics[i][view])
            pix = [rows[i].get(f"{after}/{view}/pixels") for i in keep]
            out.append({"group": group, "view": view, "n": d.n, "shapes": d.shapes,
                        "vertex": d.mean_a, "texture": d.mean_b, "rel": d.rel,
                        "rel_low": d.rel_low, "rel_high": d.rel_high, "texture_better": wins,
                        "pixels": None if None in pix else float(np.mean(pix)),
                        "iou": _mean_iou(rows, group, view)})
    return out


def _mean_iou(rows: list[dict], group: str, view: str) -> float | None:
    got = [r[f"texture/{view}/iou"] for r in rows
           if group in ("all", r["source"]) and f"texture/{view}/iou" in r]
    return float(np.mean(got)) if got else None


def markdown(summary: list[dict], before: str = "vertex colours", after: str = "texture") -> str:
    lines = [f"| group | view | samples (shapes) | ΔE00 {before} | ΔE00 {after} | "
             f"{after} vs {before} (95% CI) | {after} better | covered px | silhouette IoU |",
             "|---|---|---|---|---|---|---|---|---|"]
    for s in summary:
        lines.append(
            f"| {s['group']} | {s['view']} | {s['n']} ({s['shapes']}) | {s['vertex']:.2f} | "
            f"{s['texture']:.2f} | {s['rel'] * 100:+.1f}% ({s['rel_low'] * 100:+.1f}.."
            f"{s['rel_high'] * 100:+.1f}%) | {s['texture_better']}/{s['n']} | "
            f"{_fmt(s['pixels'], 0)} | {_fmt(s['iou'], 2)} |")
    return "\n".join(lines) + "\n"


def fill_flags(data_dir: Path, rows: list[dict]) -> None:
    """Rows get ``reframed`` again from the shard (cheap, and the test may have changed) and, in
    runs from before it existed, ``appearance`` from the source."""
    shapes: dict[str, str] = {}
    for r in rows:
        with np.load(data_dir / r["shard"]) as z:
            r["reframed"] = reframed(z["image"][r["index"]])
        if "appearance" not in r:
            sid = r["shape_id"]
            if sid not in shapes:
                shapes[sid] = appearance(reference_shape(data_dir, r["source"], sid))
            r["appearance"] = shapes[sid]


def paired_samples(samples: list[dict], earlier: list[dict]) -> list[dict]:
    """The samples that are kept rows of the earlier runs (same shard and index), in their order."""
    kept = [r for r in earlier if not r["reframed"] and r["appearance"] == "texture"]
    by_key = {(s["shard"], s["index"]): s for s in samples}
    missing = [(r["shard"], r["index"]) for r in kept if (r["shard"], r["index"]) not in by_key]
    if missing:
        raise SystemExit(f"error: --pair-with rows not in this data and split: {missing[:3]}")
    return [by_key[(r["shard"], r["index"])] for r in kept]


def join_earlier(rows: list[dict], earlier: list[dict], modes: list[str]) -> None:
    """Each row gets the earlier run's scores of the same sample: the modes not run now under
    their own names, and the earlier texture as ``median``."""
    by_key = {(r["shard"], r["index"]): r for r in earlier}
    for row in rows:
        old = by_key[(row["shard"], row["index"])]
        for key, value in old.items():
            mode, sep, rest = key.partition("/")
            if not sep:
                continue
            if mode == "texture":
                row[f"median/{rest}"] = value
            elif mode not in modes:
                row[key] = value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--split", default="val")
    p.add_argument("--per-source", type=int, default=8)
    p.add_argument("--sources", nargs="*", default=None, help="only these sources")
    p.add_argument("--shapes", nargs="*", default=None,
                   help="only these shape ids, one view each (for a sheet of chosen shapes)")
    p.add_argument("--resolution", type=int, default=128, help="the backend's grid resolution")
    p.add_argument("--predictor", default="auto", help="the backend's predictor option")
    p.add_argument("--model", default=None,
                   help="network weights to run instead of the shipped ones (e.g. a run's "
                        "model.safetensors with a colour head)")
    p.add_argument("--settings-from", default=None,
                   help="with --model: take the inference settings from this weights file")
    p.add_argument("--size", type=int, default=128, help="render size in pixels")
    p.add_argument("--views", type=int, default=1, choices=range(1, MAX_VIEWS + 1),
                   metavar="N", help="photos per job: the sample and its shape's next N - 1 "
                                     "views, poses given")
    p.add_argument("--sheet-rows", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", required=True)
    p.add_argument("--modes", nargs="+", default=list(DEFAULT_MODES),
                   choices=[m for m, _ in MODES],
                   help="which backend modes to run (oracle: the texture with the true colour "
                        "where the photo does not see)")
    p.add_argument("--pair-with", nargs="*", default=None, metavar="RESULTS_JSON",
                   help="rerun these earlier runs' kept samples and join their scores")
    p.add_argument("--rescore", action="store_true",
                   help="summarise OUT/results.json's rows again instead of running")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.rescore:  # the run's own arguments and time stay; only the summary is redone
        report = json.loads((out / "results.json").read_text())
        rows, sheet = report["rows"], []
    else:
        t = time.perf_counter()
        earlier = [r for f in args.pair_with or []
                   for r in json.loads(Path(f).read_text())["rows"]]
        samples = load_test(Path(args.data), args.split,
                            10**6 if earlier else args.per_source, sources=args.sources)
        if earlier:
            samples = paired_samples(samples, earlier)
        if args.shapes:
            first = {s["shape_id"]: s for s in reversed(samples) if s["shape_id"] in args.shapes}
            samples = [first[i] for i in args.shapes if i in first]
        rows, sheet = run_samples(args, samples)
        if earlier:
            join_earlier(rows, earlier, args.modes)
        report = {"args": vars(args), "samples": len(rows), "seconds": time.perf_counter() - t}
    fill_flags(Path(args.data), rows)
    kept = [r for r in rows if not r["reframed"] and r["appearance"] == "texture"]
    summary = summarise(kept)
    report.update(summary=summary, summary_all=summarise(rows), rows=rows)
    text = (f"{len(kept)} of {len(rows)} samples: the others are re-framed by the backend "
            f"({sum(r['reframed'] for r in rows)}) or their reference has no UV texture "
            f"({sum(r['appearance'] != 'texture' for r in rows)})\n\n" + markdown(summary))
    if kept and "median/input" in kept[0]:
        report["summary_median"] = summarise(kept, before="median")
        text += "\n" + markdown(report["summary_median"], "earlier texture")
    if kept and "oracle/input" in kept[0]:
        report["summary_oracle"] = summarise(kept, after="oracle")
        report["summary_oracle_texture"] = summarise(kept, before="texture", after="oracle")
        text += ("\n" + markdown(report["summary_oracle"], after="oracle")
                 + "\n" + markdown(report["summary_oracle_texture"], "texture", "oracle"))
    (out / "results.json").write_text(json.dumps(report, indent=1))
    (out / "summary.md").write_text(text)
    if sheet:
        write_sheet(sheet, SHEET_VIEWS, out / "sheet.png")
    print(text)
    return report


if __name__ == "__main__":
    main()
