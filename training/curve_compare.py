"""Compare reruns' loss curves with a recorded run whose curves survive only as a ``loss.png``.

The recorded curves are read off the picture (``training.plots.plot_curves`` draws each series
in a known colour on known axes: 780 px for the steps, log10 of the loss over 400 px), so a value
read back is good to about one pixel: +-11 steps and +-1.5% on a plot of 8600 steps and 2.5
decades. Rerun curves get the same 5-row smoothing the plot gave the recorded train curves.

    python -m training.curve_compare --png docs/model/loss_slice3d.png --x-max 8600 \\
        --y-range -2 0.5 --runs runs/recipe/A_seed0 runs/recipe/A_seed1 --until 400 \\
        --out docs/experiments/recipe_proof.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {  # training.plots.plot_curves' colours, in its drawing order
    "train/loss": (31, 119, 180), "train/sdf": (255, 127, 14), "train/slice": (44, 160, 44),
    "val/sdf": (214, 39, 40), "val/slice": (148, 103, 189), "val/bbox": (140, 86, 75),
}
W, H, M = 900, 520, 60  # plot_curves' canvas and margin


def read_png_curve(png: Path, series: str, x_max: float, y_range: tuple[float, float],
                   until: float) -> list[tuple[float, float]]:
    """(step, value) per pixel column of one series, read back from a ``plot_curves`` picture."""
    img = np.asarray(Image.open(png).convert("RGB")).astype(int)
    hit = np.abs(img - np.array(COLOURS[series])).sum(-1) <= 30
    y0, y1 = y_range
    out = []
    for x in range(M + 1, W - M + 1):
        ys = np.where(hit[M + 1: H - M, x])[0] + M + 1
        step = (x - M) / (W - 2 * M) * x_max
        if len(ys) and step <= until:
            log_v = y0 + (H - M - float(np.median(ys))) / (H - 2 * M) * (y1 - y0)
            out.append((step, 10**log_v))
    return out


def run_curve(run_dir: Path, series: str, smooth: bool = True) -> list[tuple[int, float]]:
    """(step, value) of one series of a run's ``log.jsonl``; ``train/loss-sign`` is the training
    loss less its sign term (the recorded phase A ran its first ~600 steps without it)."""
    kind, key = series.split("/")
    rows = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines() if x.strip()]
    rows = [r for r in rows if r["kind"] == kind]
    rows = list({r["step"]: r for r in rows}.values())  # a resumed run logs some steps again
    rows.sort(key=lambda r: r["step"])
    if key == "loss-sign":
        pts = [(r["step"], r["loss"] - r.get("sign", 0.0)) for r in rows]
    else:
        pts = [(r["step"], r[key]) for r in rows if key in r]
    if smooth and kind == "train" and len(pts) > 10:  # as plot_curves smooths a train curve
        vals = np.array([v for _, v in pts])
        sm = np.convolve(np.pad(vals, 2, mode="edge"), np.ones(5) / 5, mode="valid")
        pts = [(s, float(v)) for (s, _), v in zip(pts, sm, strict=True)]
    return pts


def nearest_points(curve: list[tuple[float, float]], every: int,
                   px_steps: float) -> list[tuple[float, float]]:
    """The points of a read-back curve nearest to each multiple of ``every`` (its evaluations),
    placed at that multiple."""
    out = []
    for k in range(every, int(curve[-1][0] + px_steps) + 1, every) if curve else ():
        s, v = min(curve, key=lambda p: abs(p[0] - k))
        if abs(s - k) <= px_steps:
            out.append((float(k), v))
    return out


def at(curve: list[tuple[float, float]], step: float) -> float:
    """The curve's value at ``step``, interpolated in log space."""
    xs = np.array([s for s, _ in curve])
    ys = np.log10([v for _, v in curve])
    return float(10 ** np.interp(step, xs, ys))


def draw(curves: dict[str, dict[str, list]], out: Path, until: float,
         y_range: tuple[float, float], controls: tuple[str, ...] = ()) -> None:
    """One panel: per series, the recorded curve (thick), each rerun (thin) and each control
    run (thin, grey), log10 y."""
    w, h, m = 900, 560, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    y0, y1 = y_range

    def px(s: float, v: float) -> tuple[float, float]:
        return (m + s / until * (w - 2 * m),
                h - m - (math.log10(v) - y0) / (y1 - y0) * (h - 2 * m))

    d.rectangle([m, m, w - m, h - m], outline="black")
    for k in range(int(math.ceil(y0 * 4)), int(math.floor(y1 * 4)) + 1):
        yy = px(0, 10 ** (k / 4))[1]
        d.line([m, yy, w - m, yy], fill=(225, 225, 225))
        d.text((5, yy - 6), f"{10 ** (k / 4):.3g}", fill="black")
    for i in range(5):
        s = until * i / 4
        d.text((px(s, 10**y0)[0] - 10, h - m + 8), f"{int(s)}", fill="black")
    row = 0
    for series, by_name in curves.items():
        colour = COLOURS.get(series.replace("-sign", ""), (0, 0, 0))
        for name, pts in by_name.items():
            pts = [(s, v) for s, v in pts if s <= until and v > 0]
            if len(pts) < 2:
                continue
            recorded = name == "recorded"
            fill = colour if recorded or name not in controls else (120, 120, 120)
            if series.startswith("val/"):  # evaluations are points, not a curve
                r = 5 if recorded else 3
                for x, y in (px(s, v) for s, v in pts):
                    d.ellipse([x - r, y - r, x + r, y + r], outline=fill, width=2)
            else:
                d.line([px(s, v) for s, v in pts], fill=fill, width=4 if recorded else 1)
        label = ("big circle = recorded, small = reruns" if series.startswith("val/")
                 else "thick = recorded, thin = reruns")
        d.text((w - m - 300, m + 8 + 14 * row), f"{series}: {label}", fill=colour)
        row += 1
    if controls:
        d.text((w - m - 300, m + 8 + 14 * row), "grey: " + ", ".join(controls),
               fill=(120, 120, 120))
    d.text((m, 20), "recipe phase A rerun from scratch vs the recorded phase A (log10 y)",
           fill="black")
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--png", type=Path, required=True, help="the recorded run's loss.png")
    ap.add_argument("--x-max", type=float, required=True, help="its last step (the x axis end)")
    ap.add_argument("--y-range", type=float, nargs=2, required=True,
                    help="its y axis, log10 (bottom top), as printed on it")
    ap.add_argument("--runs", type=Path, nargs="+", required=True)
    ap.add_argument("--controls", type=Path, nargs="*", default=[],
                    help="runs of a changed config: shown (grey) beside the reruns, not pooled")
    ap.add_argument("--until", type=float, required=True, help="compare up to this step")
    ap.add_argument("--series", nargs="+", default=["train/sdf", "train/slice", "val/sdf"])
    ap.add_argument("--at", type=float, nargs="+", default=None, help="steps of the table")
    ap.add_argument("--val-every", type=int, default=250,
                    help="the recorded run's evaluation interval (its val points)")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    curves: dict[str, dict[str, list]] = {}
    for series in args.series:
        recorded = read_png_curve(args.png, series.replace("-sign", ""), args.x_max,
                                  tuple(args.y_range), args.until)
        if series.startswith("val/"):  # the picture joins evaluations with lines: keep the ends
            recorded = nearest_points(recorded, args.val_every, args.x_max / (W - 2 * M))
        curves[series] = {"recorded": recorded}
        for run in [*args.runs, *args.controls]:
            curves[series][run.name] = run_curve(run, series)
    steps = args.at or [args.until * f for f in (0.25, 0.5, 0.75, 1.0)]
    print("| series | step | recorded (read off the PNG) | " + " | ".join(
        r.name for r in [*args.runs, *args.controls])
        + " | rerun spread | recorded vs rerun mean |")
    print("|---" * (5 + len(args.runs) + len(args.controls)) + "|")
    for series, by_name in curves.items():
        for s in steps:
            if series.startswith("val/") and not all(
                    any(abs(s - t) <= 12 for t, _ in by_name[n])
                    for n in ("recorded", args.runs[0].name)):
                continue  # compare evaluations where both made one
            try:
                rec = at(by_name["recorded"], s)
                reruns = [at(by_name[r.name], s) for r in args.runs]
            except (ValueError, IndexError):
                continue
            controls = [f"{at(by_name[r.name], s):.4f}" if by_name[r.name]
                        and by_name[r.name][-1][0] >= s else "-" for r in args.controls]
            mean = float(np.mean(reruns))
            print(f"| {series} | {s:.0f} | {rec:.4f} | "
                  + " | ".join([f"{v:.4f}" for v in reruns] + controls)
                  + f" | {max(reruns) - min(reruns):.4f} | {(rec - mean) / mean:+.1%} |")
    if args.out:
        draw(curves, args.out, args.until, tuple(args.y_range),
             tuple(r.name for r in args.controls))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
