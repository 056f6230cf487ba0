"""Loss curves of a run (``log.jsonl`` -> ``loss.png``), drawn with PIL: no plotting library."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def plot_curves(log_path: Path, png_path: Path) -> None:
    """Loss curves (train total, train sdf, val sdf, val slice) drawn with PIL, log-scale y."""
    from PIL import Image, ImageDraw

    rows = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
    series: dict[str, list[tuple[int, float]]] = {}
    for r in rows:
        for k, v in r.items():
            if k in ("step", "time", "lr", "kind") or not isinstance(v, int | float) or v <= 0:
                continue
            series.setdefault(f"{r['kind']}/{k}", []).append((r["step"], float(v)))
    keep = [k for k in ("train/loss", "train/sdf", "train/slice", "val/sdf", "val/slice",
                        "val/bbox") if k in series]
    w, h, m = 900, 520, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    if not keep:
        img.save(png_path)
        return
    xs = [s for k in keep for s, _ in series[k]]
    ys = [math.log10(v) for k in keep for _, v in series[k]]
    x0, x1 = 0, max(xs) or 1
    y0, y1 = math.floor(min(ys) * 2) / 2, math.ceil(max(ys) * 2) / 2
    y1 = max(y1, y0 + 0.5)

    def px(s, v):
        return (m + (s - x0) / (x1 - x0) * (w - 2 * m),
                h - m - (math.log10(v) - y0) / (y1 - y0) * (h - 2 * m))

    d.rectangle([m, m, w - m, h - m], outline="black")
    yv = y0
    while yv <= y1 + 1e-9:
        yy = h - m - (yv - y0) / (y1 - y0) * (h - 2 * m)
        d.line([m, yy, w - m, yy], fill=(225, 225, 225))
        d.text((5, yy - 6), f"1e{yv:g}", fill="black")
        yv += 0.5
    for i in range(5):
        s = x0 + (x1 - x0) * i / 4
        d.text((px(s, 10**y0)[0] - 10, h - m + 8), f"{int(s)}", fill="black")
    colours = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
               (140, 86, 75)]
    for i, k in enumerate(keep):
        pts = series[k]
        if k.startswith("train/") and len(pts) > 10:  # light smoothing for the noisy train curve
            vals = np.array([v for _, v in pts])
            ker = np.ones(5) / 5
            sm = np.convolve(np.pad(vals, 2, mode="edge"), ker, mode="valid")
            pts = [(s, float(v)) for (s, _), v in zip(pts, sm, strict=True)]
        d.line([px(s, v) for s, v in pts], fill=colours[i % 6], width=2)
        d.text((w - m - 150, m + 8 + 14 * i), k, fill=colours[i % 6])
    d.text((m, 20), f"{log_path.parent.name}: losses (log10) vs step", fill="black")
    img.save(png_path)
