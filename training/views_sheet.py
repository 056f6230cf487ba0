"""A sheet of held-out shapes reconstructed from 1, 2 and 4 photos (issue 35), seen from the side.

    python -m training.views_sheet --model backend/weights/slice3d_compact.safetensors \\
        --data data/v1 --sources 0ad everyday pybullet \\
        --extra data/photo_test_sh3d --extra-sources sh3d-furniture \\
        --resolution 96 --out docs/model/sheet_views.png

Rows: one shape per ``--sources`` entry of ``--data``'s split, picked as ``training.evaluate_views``
picks (seed 0, so each is among the shapes its table scores), then one per ``--extra-sources``
entry of ``--extra`` (a set whose inputs are Cycles renders, ``python -m training.data
photo-val``: the stand-in for a real object photographed from several sides). Photo 0 is the
shape's first render, photos 1-3 its other renders with their true poses, as in
``evaluate_views``. Columns: the photos, then the network's mesh from photo 0, photos 0-1 and
photos 0-3 (``predict_views``: the weights' own fusion), and the true mesh, all turned 90 degrees
about the vertical of photo 0's view frame: the side, whose depth one photo has to guess. Under
each mesh its normalised Chamfer-L1 to the truth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import trimesh
from PIL import Image, ImageDraw

from backend.framing import to_model_input
from backend.predictors.network import NetworkPredictor
from training.evaluate import reference_mesh, render_mesh
from training.evaluate_views import load_shapes, mesh_of, relative_transforms
from training.metrics import compare

SIDE = (90.0, 0.0)  # azimuth, elevation of the fixed view every mesh is shown from
PHOTO, TILE, LABEL = 64, 128, 16
COUNTS = (1, 2, 4)
MESH_COLOUR, TRUTH_COLOUR = (0.55, 0.7, 0.95), (0.9, 0.6, 0.6)


def reconstruct(network: NetworkPredictor, photos: list[np.ndarray],
                transforms: list[np.ndarray], count: int, resolution: int
                ) -> trimesh.Trimesh | None:
    """The network's mesh from the first ``count`` photos."""
    if count == 1:
        return mesh_of(network.predict(photos[0]), resolution)
    return mesh_of(network.predict_views(photos[:count], transforms[:count]), resolution)


def chamfer(mesh: trimesh.Trimesh | None, ref: trimesh.Trimesh) -> float | None:
    if mesh is None or len(mesh.faces) == 0:
        return None
    return compare(mesh, ref, seed=0, iou=False)["norm/chamfer_l1"]


def sheet_row(network: NetworkPredictor, data_dir: Path, shape: dict, resolution: int) -> dict:
    """One row: the photos (uint8 RGB on white), the meshes and their Chamfer-L1, the truth."""
    photos = [to_model_input(im) for im in shape["images"][:max(COUNTS)]]
    transforms = relative_transforms(shape["object_to_view"])
    ref = reference_mesh(data_dir, shape["shape_id"], shape["object_to_view"][0])
    meshes = {n: reconstruct(network, photos, transforms, n, resolution) for n in COUNTS}
    return {"label": f"{shape['source']}: {shape['shape_id']}"[:48],
            "photos": [(np.clip(p[..., :3], 0, 1) * 255).astype(np.uint8) for p in photos],
            "meshes": meshes, "chamfer": {n: chamfer(m, ref) for n, m in meshes.items()},
            "truth": ref}


def draw_sheet(rows: list[dict], title: str, path: Path) -> None:
    """Photos in a 2x2 block, then 1 / 2 / 4 photos and the truth from the side."""
    width = 2 * PHOTO + (len(COUNTS) + 1) * (TILE + 4) + 8
    height = 34 + len(rows) * (TILE + 2 * LABEL)
    sheet = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(sheet)
    d.text((4, 4), title, fill="black")
    heads = [f"{n} photo{'s' if n > 1 else ''}" for n in COUNTS] + ["truth"]
    for j, head in enumerate(heads):
        d.text((2 * PHOTO + 8 + j * (TILE + 4) + 2, 20), head, fill="black")
    for i, row in enumerate(rows):
        y = 34 + i * (TILE + 2 * LABEL)
        for k, photo in enumerate(row["photos"]):
            small = Image.fromarray(photo).resize((PHOTO, PHOTO), Image.BILINEAR)
            sheet.paste(small, ((k % 2) * PHOTO, y + (k // 2) * PHOTO))
        x = 2 * PHOTO + 8
        for n in COUNTS:
            sheet.paste(Image.fromarray(render_mesh(row["meshes"][n], *SIDE, size=TILE,
                                                    colour=MESH_COLOUR)), (x, y))
            cd = row["chamfer"][n]
            d.text((x + 2, y + TILE + 1), "no surface" if cd is None else f"CD {cd:.4f}",
                   fill="black")
            x += TILE + 4
        sheet.paste(Image.fromarray(render_mesh(row["truth"], *SIDE, size=TILE,
                                                colour=TRUTH_COLOUR)), (x, y))
        d.text((2, y + TILE + LABEL), row["label"], fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, optimize=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("data/v1"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--sources", nargs="+", default=["0ad", "everyday", "pybullet"])
    ap.add_argument("--extra", type=Path, help="a Cycles-rendered set (training.data photo-val)")
    ap.add_argument("--extra-sources", nargs="*", default=[])
    ap.add_argument("--resolution", type=int, default=96)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("runs/eval/sheet_views.png"))
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    network = NetworkPredictor(torch.device("cpu"), args.model)
    picks = [(args.data, s) for s in load_shapes(args.data, args.split, 1, 0, args.sources)]
    if args.extra is not None:
        picks += [(args.extra, s) for s in load_shapes(args.extra, args.split, 1, 0,
                                                         args.extra_sources)]
    rows = []
    for data_dir, shape in picks:
        if len(shape["images"]) < max(COUNTS):
            print(f"{shape['shape_id']} skipped: {len(shape['images'])} renders")
            continue
        rows.append(sheet_row(network, data_dir, shape, args.resolution))
        cds = ", ".join(f"{n}: {c if c is None else round(c, 4)}"
                        for n, c in rows[-1]["chamfer"].items())
        print(f"{rows[-1]['label']}: Chamfer-L1 {cds}", flush=True)
    fusion = "feature fusion" if network.fuses_features else "SDF intersection"
    draw_sheet(rows, f"held-out shapes from 1, 2 and 4 photos (known poses, {fusion}), seen "
               f"from the side (90 deg); {args.resolution}^3", args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
