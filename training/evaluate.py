"""Evaluate predictors on a held-out split, per source, and a qualitative sheet (ARCHITECTURE.md 9).

    python -m training.evaluate --data data/v1 --split test \
        --model slice3d=backend/weights/slice3d_compact.safetensors \
        --model noslice=runs/noslice_compact/model.safetensors \
        --per-source 20 --resolution 128 --out runs/eval/v1

The silhouette baseline is always measured beside the models, in the same run, on the same inputs.
Every input goes through ``backend.framing.to_model_input`` exactly as at inference. Meshes come
from ``backend.meshing.extract_mesh`` (coarse-to-fine, marching cubes, clean-up) and are compared
with the reference mesh (``DIR/meshes/<shape_id>.npz`` moved by ``object_to_view``) with
``training.metrics.compare``: view frame and normalised. Real photos (``--photos``) go through the
backend's own decode, background removal and framing.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import trimesh
from PIL import Image, ImageDraw

from backend.errors import BackendError
from backend.framing import frame_object, to_model_input
from backend.geometry import CAMERA_DISTANCE, pixel_rays
from backend.meshing import extract_mesh
from backend.predictors.network import NetworkPredictor
from backend.predictors.silhouette import SilhouettePredictor
from training.metrics import compare, failed_metrics

REPO = Path(__file__).resolve().parent.parent
KEYS = ("chamfer_l1", "f@0.01", "f@0.05", "normal_consistency", "iou")
BASELINE = "baseline"


# ---------------------------------------------------------------------------------------- data
def load_test(data_dir: Path, split: str, per_source: int, seed: int = 0,
              sources: list[str] | None = None) -> list[dict]:
    """Up to ``per_source`` samples of each source, chosen by a seeded shuffle, one view per
    shape first (so a small cap still covers many shapes)."""
    manifest = json.loads((data_dir / "manifest.json").read_text())
    rows: list[dict] = []
    for rel in manifest["splits"].get(split, []):
        with np.load(data_dir / rel, allow_pickle=False) as z:
            for i in range(len(z["image"])):
                rows.append({"shard": rel, "index": i, "shape_id": str(z["shape_id"][i]),
                             "source": str(z["source"][i]), "family": str(z["family"][i])})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(rows))
    chosen: dict[str, list[dict]] = {}
    seen: set[str] = set()
    for first_pass in (True, False):
        for j in order:
            r = rows[j]
            if sources and r["source"] not in sources:
                continue
            lst = chosen.setdefault(r["source"], [])
            key = f"{r['shard']}:{r['index']}"
            if len(lst) >= per_source or key in seen or (first_pass and any(
                    x["shape_id"] == r["shape_id"] for x in lst)):
                continue
            lst.append(r)
            seen.add(key)
    out = [r for lst in chosen.values() for r in lst]
    cache: dict[str, dict] = {}
    for r in out:
        if r["shard"] not in cache:
            with np.load(data_dir / r["shard"], allow_pickle=False) as z:
                cache[r["shard"]] = {k: z[k] for k in ("image", "object_to_view")}
        r["image"] = cache[r["shard"]]["image"][r["index"]]
        r["object_to_view"] = cache[r["shard"]]["object_to_view"][r["index"]]
    return out


def reference_mesh(data_dir: Path, shape_id: str, object_to_view: np.ndarray) -> trimesh.Trimesh:
    with np.load(data_dir / "meshes" / f"{shape_id}.npz") as z:
        v, f = z["vertices"].astype(np.float64), z["faces"].astype(np.int64)
    m = np.asarray(object_to_view, np.float64)
    return trimesh.Trimesh(v @ m[:3, :3].T + m[:3, 3], f, process=True)


def photo_input(path: Path) -> np.ndarray:
    """A real photo through the backend's own decode, background removal and framing."""
    from backend.foreground import extract_foreground
    from backend.intake import load_image

    loaded = load_image(path.read_bytes())
    cutout, _ = extract_foreground(loaded.rgba, loaded.has_alpha, "auto")
    return to_model_input(frame_object(cutout))


ORANGE = "usr/share/doc/opencv-doc/examples/data/orange.jpg"  # Debian's opencv-doc package
# installed, or unpacked with `dpkg -x opencv-doc_*.deb /tmp/ocvdoc`
ORANGE_ROOTS = (Path("/"), Path("/tmp/ocvdoc"))


def default_photos() -> list[tuple[str, np.ndarray]]:
    out = [("apple", photo_input(REPO / "examples" / "apple.jpg"))]
    orange = next((root / ORANGE for root in ORANGE_ROOTS if (root / ORANGE).exists()), None)
    if orange is None:
        print("orange photo skipped: opencv-doc is neither installed nor unpacked in /tmp/ocvdoc")
    else:
        out.append(("orange", photo_input(orange)))
    try:
        import io

        import skimage.data

        buf = io.BytesIO()
        Image.fromarray(skimage.data.coffee()).save(buf, format="PNG")
        tmp = Path("/tmp/slice3d_coffee.png")
        tmp.write_bytes(buf.getvalue())
        out.append(("coffee", photo_input(tmp)))
    except Exception as exc:  # noqa: BLE001 - a missing photo must not stop the evaluation
        print(f"coffee photo skipped: {exc}")
    return out


# ---------------------------------------------------------------------------------------- render
def _rotation(azimuth_deg: float, elevation_deg: float) -> np.ndarray:
    """Rotation that shows the object as a camera at (azimuth, elevation) around it would."""
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    ry = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    return rx @ ry


VIEWS = (("front", 0.0, 0.0), ("side", 90.0, 0.0), ("above", 45.0, 35.0))


def render_mesh(mesh: trimesh.Trimesh | None, azimuth: float, elevation: float, size: int = 128,
                colour=(0.55, 0.7, 0.95)) -> np.ndarray:
    """Lambert-shaded ray-cast render (uint8 RGB, white background) through the input camera."""
    img = np.full((size, size, 3), 255, np.uint8)
    if mesh is None or len(mesh.faces) == 0:
        return img
    r = _rotation(azimuth, elevation)
    m = trimesh.Trimesh(np.asarray(mesh.vertices) @ r.T, mesh.faces, process=False)
    rays = pixel_rays(size).reshape(-1, 3)
    dirs = rays / np.linalg.norm(rays, axis=1, keepdims=True)
    origins = np.broadcast_to(np.array([0.0, 0.0, CAMERA_DISTANCE]), dirs.shape)
    tri = m.ray.intersects_first(origins, dirs)
    hit = tri >= 0
    n = m.face_normals[tri[hit]]
    n = n * np.sign(-(n * dirs[hit]).sum(1, keepdims=True) + 1e-9)  # face the camera
    light = np.array([0.35, 0.55, 0.75])
    light /= np.linalg.norm(light)
    shade = 0.25 + 0.75 * np.clip(n @ light, 0, 1)
    flat = img.reshape(-1, 3)
    flat[hit] = (255 * shade[:, None] * np.asarray(colour)[None]).astype(np.uint8)
    return flat.reshape(size, size, 3)


def _rgba_on_white(rgba: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    return (rgba[..., :3] * a + 255 * (1 - a)).astype(np.uint8)


def _slices_grid(slices: np.ndarray, tile: int = 48) -> np.ndarray:
    """12 slice images as a 4 x 3 grid (rows X, Y, Z), on a light grey ground."""
    out = np.full((3 * tile, 4 * tile, 3), 235, np.uint8)
    for k in range(12):
        im = Image.fromarray(slices[k], "RGBA").resize((tile, tile), Image.Resampling.BILINEAR)
        rgba = np.asarray(im)
        a = rgba[..., 3:4] / 255.0
        cell = (rgba[..., :3] * a + 235 * (1 - a)).astype(np.uint8)
        r, c = divmod(k, 4)
        out[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = cell
    return out


def qualitative_sheet(rows: list[dict], names: list[str], path: Path, title: str) -> None:
    """One row per input: input | each model's slices (if any) + 3 renders | reference renders."""
    tile = 128
    widths = [tile]
    for name in names:
        widths += ([192] if name != BASELINE else []) + [tile] * 3
    has_ref = any(r.get("ref") is not None for r in rows)
    if has_ref:
        widths += [tile] * 3
    w = sum(widths) + 4 * len(widths)
    h = 30 + len(rows) * (tile + 18)
    sheet = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(sheet)
    d.text((4, 4), title, fill="black")
    for i, r in enumerate(rows):
        y = 30 + i * (tile + 18)
        x = 0
        inp = (np.clip(r["input"], 0, 1) * 255).astype(np.uint8)
        sheet.paste(Image.fromarray(inp[..., :3]), (x, y))
        d.text((x + 2, y + tile + 2), r["label"][:22], fill="black")
        x += tile + 4
        colours = [(0.55, 0.7, 0.95), (0.6, 0.85, 0.6), (0.95, 0.75, 0.5), (0.8, 0.6, 0.9)]
        for j, name in enumerate(names):
            col = (0.75, 0.75, 0.75) if name == BASELINE else colours[j % 4]
            if name != BASELINE:
                grid = _slices_grid(r["slices"][name])
                sheet.paste(Image.fromarray(grid), (x, y + (tile - grid.shape[0]) // 2))
                d.text((x + 2, y + tile + 2), f"{name}: slices", fill="black")
                x += 192 + 4
            for vname, az, el in VIEWS:
                sheet.paste(Image.fromarray(render_mesh(r["meshes"].get(name), az, el,
                                                        colour=col)), (x, y))
                d.text((x + 2, y + tile + 2), f"{name} {vname}", fill="black")
                x += tile + 4
        if has_ref and r.get("ref") is not None:
            for vname, az, el in VIEWS:
                sheet.paste(Image.fromarray(render_mesh(r["ref"], az, el, colour=(0.9, 0.6, 0.6))),
                            (x, y))
                d.text((x + 2, y + tile + 2), f"truth {vname}", fill="black")
                x += tile + 4
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


# ---------------------------------------------------------------------------------------- run
def summarise(results: list[dict], names: list[str]) -> dict:
    """Means per (group, predictor): groups are each source, 'real' (non-procedural) and 'all'."""
    groups: dict[str, list[dict]] = {"all": results}
    for r in results:
        groups.setdefault(r["source"], []).append(r)
        if r["source"] != "procedural":
            groups.setdefault("real", []).append(r)
    out: dict = {}
    for g, rs in groups.items():
        out[g] = {"n": len(rs)}
        for name in names:
            s: dict = {"failures": sum(1 for r in rs if r["metrics"][name].get("failed"))}
            for prefix in ("", "norm/"):
                for k in KEYS:
                    vals = [r["metrics"][name].get(prefix + k) for r in rs]
                    vals = [v for v in vals if v is not None]
                    s[prefix + k] = float(np.mean(vals)) if vals else None
                    if k == "iou":
                        s[prefix + "iou_n"] = len(vals)
            ratios = [r["metrics"][name]["depth_ratio"] for r in rs
                      if r["metrics"][name].get("depth_ratio") is not None]
            s["depth_ratio_median"] = float(np.median(ratios)) if ratios else None
            out[g][name] = s
    return out


def markdown(summary: dict, names: list[str]) -> str:
    lines = []
    for prefix, label in (("norm/", "normalised"), ("", "view frame")):
        lines.append(f"\n**{label}** (Chamfer-L1 lower is better; F-score, normal consistency "
                     "(NC) and IoU higher)\n")
        lines.append("| group | n | predictor | Chamfer-L1 | F@0.01 | F@0.05 | NC | IoU (n) "
                     "| failed |")
        lines.append("|---|---|---|---|---|---|---|---|---|")
        order = ["real"] + sorted(k for k in summary if k not in ("all", "real")) + ["all"]
        for g in order:
            if g not in summary:
                continue
            for name in names:
                s = summary[g][name]

                def f(v, nd=3):
                    return "-" if v is None else f"{v:.{nd}f}"

                lines.append(
                    f"| {g} | {summary[g]['n']} | {name} | {f(s[prefix + 'chamfer_l1'], 4)} | "
                    f"{f(s[prefix + 'f@0.01'])} | {f(s[prefix + 'f@0.05'])} | "
                    f"{f(s[prefix + 'normal_consistency'])} | "
                    f"{f(s[prefix + 'iou'])} ({s[prefix + 'iou_n']}) | {s['failures']} |"
                )
    if "all" in summary:
        ratios = ", ".join(f"{name} {summary['all'][name]['depth_ratio_median']:.3f}"
                           for name in names
                           if summary["all"][name].get("depth_ratio_median") is not None)
        lines.append(f"\nMedian depth ratio (extent along the view axis, prediction / reference; "
                     f"all samples): {ratios}")
    return "\n".join(lines) + "\n"


def run_predictor(pred, image: np.ndarray, resolution: int, device):
    p = pred.predict(image)
    try:
        mesh = extract_mesh(p.sdf, resolution=resolution, device=device,
                            silhouette_fill=p.silhouette_fill)
    except BackendError:
        mesh = None
    return p, mesh


def evaluate(args) -> dict:
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    data_dir = Path(args.data)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    predictors: dict = {}
    for spec in args.model:
        name, path = spec.split("=", 1)
        predictors[name] = NetworkPredictor(device, Path(path))
    predictors[BASELINE] = SilhouettePredictor(device)
    names = list(predictors)
    samples = load_test(data_dir, args.split, args.per_source, args.seed, args.sources)
    print(f"{len(samples)} {args.split} samples from {data_dir}; predictors {names}", flush=True)
    results, sheet_rows = [], []
    timings = {n: 0.0 for n in names}
    sheet_every = max(1, len(samples) // max(1, args.sheet_rows))
    for i, s in enumerate(samples):
        ref = reference_mesh(data_dir, s["shape_id"], s["object_to_view"])
        image = to_model_input(s["image"])
        row = {"shape_id": s["shape_id"], "source": s["source"], "family": s["family"],
               "metrics": {}}
        sheet = {"input": image, "label": f"{s['source']}/{s['family']}", "meshes": {},
                 "slices": {}, "ref": ref}
        for name, pred in predictors.items():
            t0 = time.perf_counter()
            p, mesh = run_predictor(pred, image, args.resolution, device)
            timings[name] += time.perf_counter() - t0
            if mesh is None or len(mesh.faces) == 0:
                m = failed_metrics()
                m["failed"] = True
            else:
                m = compare(mesh, ref, seed=i)
            row["metrics"][name] = m
            sheet["meshes"][name] = mesh
            sheet["slices"][name] = p.slices
        results.append(row)
        if i % sheet_every == 0 and len(sheet_rows) < args.sheet_rows:
            sheet_rows.append(sheet)
        msg = " ".join(f"{n}: F@.05={row['metrics'][n]['norm/f@0.05']:.2f}" for n in names)
        print(f"[{i + 1}/{len(samples)}] {s['source']}/{s['shape_id']} {msg}", flush=True)
    summary = summarise(results, names)
    report = {
        "command": args.command, "data": str(data_dir), "split": args.split,
        "resolution": args.resolution, "samples": len(results), "predictors": {
            n: (str(getattr(p, "weights", "")) or p.label) for n, p in predictors.items()},
        "seconds_per_sample": {n: t / max(1, len(results)) for n, t in timings.items()},
        "summary": summary, "results": results,
    }
    (out_dir / "results.json").write_text(json.dumps(report, indent=1))
    md = markdown(summary, names)
    (out_dir / "results.md").write_text(f"`{args.command}`\n{md}")
    print(md, flush=True)
    qualitative_sheet(sheet_rows, names, out_dir / "sheet_test.png",
                      f"{args.split} split of {data_dir}: input | slices + mesh per predictor "
                      f"| reference")
    if args.photos:
        photo_rows = []
        for label, image in default_photos():
            row = {"input": image, "label": label, "meshes": {}, "slices": {}, "ref": None}
            for name, pred in predictors.items():
                p, mesh = run_predictor(pred, image, args.resolution, device)
                row["meshes"][name], row["slices"][name] = mesh, p.slices
            photo_rows.append(row)
        qualitative_sheet(photo_rows, names, out_dir / "sheet_photos.png",
                          "real photos (backend background removal + framing)")
    return report


def main(argv: list[str] | None = None) -> None:
    import shlex
    import sys

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="data/v1")
    ap.add_argument("--split", default="test")
    ap.add_argument("--model", action="append", default=[], help="NAME=weights.safetensors")
    ap.add_argument("--per-source", type=int, default=20)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--out", default="runs/eval/latest")
    ap.add_argument("--sheet-rows", type=int, default=6)
    ap.add_argument("--no-photos", dest="photos", action="store_false")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sources", nargs="*", default=None, help="only these sources")
    args = ap.parse_args(argv)
    args.command = "python -m training.evaluate " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    evaluate(args)


if __name__ == "__main__":
    main()
