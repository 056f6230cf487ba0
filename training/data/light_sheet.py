"""Light sheet: the same shapes, views and HDRIs drawn with (a) the analytic studio light, (b) the
image-based light of the data engine and (c) Cycles path tracing (training/data/cycles.py), with
image statistics per column, to show how close the fast renders come to a path tracer.

    python -m training.data.light_sheet --out docs/experiments/light_sheet.png [--size 192]

Views are level (elevation 0): the Cycles world turns with the camera, ours stays upright with
the object, and only at elevation 0 do the two agree (Cycles' map rotation = ours + azimuth).
Camera effects (noise, blur, JPEG) are off in every column; materials are the shape's own
(texture or vertex colours) with roughness 0.5, no metal, f0 0.04, in all three.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from training.data.hdri import Environment, map_light, world_dir
from training.data.raycast import Caster
from training.data.render import render_input
from training.data.shading import Look, random_look
from training.data.sources import get_source
from training.data.sources.base import Dropped, Shape, stable_seed
from training.data.views import View

COLUMNS = ("old light", "new light (HDRI)", "Cycles")
HDRIS = ("sunset", "city", "studio", "forest", "interior", "courtyard")
ROUGHNESS = 0.5
DARK = 0.1  # luminance below which a pixel counts as dark


def pick_shapes(per_source: int = 3) -> list[Shape]:
    """A few procedural shapes and a few real ones (0ad when installed, else cgal), each from a
    different family, the first that loads in the source's listing order."""
    shapes: list[Shape] = []
    for name in ("procedural", "0ad", "cgal"):
        if name == "cgal" and len(shapes) > per_source:
            break
        try:
            listed = get_source(name).list_shapes(3000)
        except (FileNotFoundError, RuntimeError, OSError):
            continue
        families: set[str] = set()
        for shape_id, family in listed:
            if len(families) == per_source:
                break
            if family in families:
                continue
            shape = get_source(name).load(shape_id, np.random.default_rng(stable_seed(shape_id)))
            if not isinstance(shape, Dropped):
                shapes.append(shape)
                families.add(family)
    return shapes


def _look(seed: int, env: Environment | None) -> Look:
    """One material for all columns: the shape's own colours, roughness 0.5, f0 0.04."""
    base = random_look(np.random.default_rng(seed))
    return replace(
        base,
        pattern="none",
        tint_strength=0.0,
        texture=None,
        metallic=False,
        specular=0.2,
        roughness=ROUGHNESS,
        shininess=2.0 / ROUGHNESS**4 - 2.0,
        env=env,
        camera=None,
    )


def render_row(shape: Shape, hdri: str, seed: int, size: int) -> tuple[list[np.ndarray], list]:
    """The three RGBA renders of one shape and their seconds."""
    from training.data.cycles import render_cycles

    rng = np.random.default_rng(seed)
    view = View(float(rng.uniform(0, 360)), 0.0, 1.0)
    env = Environment(hdri, float(rng.uniform(0, 360)), map_light(hdri).white)
    caster = Caster(shape.mesh)
    out, secs = [], []
    for look in (_look(seed, None), _look(seed, env)):
        t = time.perf_counter()
        out.append(render_input(caster, view, look, size))
        secs.append(time.perf_counter() - t)
    t = time.perf_counter()
    out.append(
        render_cycles(
            shape.mesh,
            view,
            world_dir() / f"{hdri}.exr",
            (env.rotation_deg + view.azimuth_deg) % 360,
            env.strength,
            size,
            base_color=_look(seed, None).base,
            roughness=ROUGHNESS,
        )
    )
    secs.append(time.perf_counter() - t)
    return out, secs


def on_white(rgba: np.ndarray) -> np.ndarray:
    """Composite on white, as backend.framing.to_model_input does; float RGB 0..1."""
    a = rgba[..., 3:4] / 255.0
    return (rgba[..., :3] / 255.0) * a + (1 - a)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.2126, 0.7152, 0.0722])


def image_stats(rgba: np.ndarray) -> dict[str, float]:
    """Statistics over the object's pixels (alpha > 0.5): mean luminance, RMS contrast, mean
    saturation, mean gradient magnitude (inside the object), share of dark pixels."""
    rgb = rgba[..., :3] / 255.0
    mask = rgba[..., 3] > 127
    y = _luma(rgb)
    mx, mn = rgb.max(-1), rgb.min(-1)
    sat = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0)
    gy, gx = np.gradient(y)
    inner = mask.copy()
    for axis in (0, 1):
        for step in (1, -1):
            inner &= np.roll(mask, step, axis)
    return {
        "mean_lum": float(y[mask].mean()),
        "rms_contrast": float(y[mask].std()),
        "saturation": float(sat[mask].mean()),
        "gradient": float(np.hypot(gx, gy)[inner].mean()),
        "dark": float((y[mask] < DARK).mean()),
    }


def colour_histogram(rgba: np.ndarray, bins: int = 8) -> np.ndarray:
    """Normalised RGB histogram of the object's pixels."""
    rgb = rgba[..., :3][rgba[..., 3] > 127].astype(np.int64) * bins // 256
    h = np.bincount((rgb[:, 0] * bins + rgb[:, 1]) * bins + rgb[:, 2], minlength=bins**3)
    return h / max(h.sum(), 1)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Total-variation distance of two colour histograms: 0 same, 1 disjoint."""
    return float(0.5 * np.abs(colour_histogram(a) - colour_histogram(b)).sum())


def summarise(rows: list[list[np.ndarray]], secs: list[list[float]]) -> str:
    """One line per column: the statistics averaged over rows, the histogram distance to the
    Cycles render of the same row, and seconds per image."""
    lines = [
        f"{'column':18s} {'mean_lum':>8s} {'rms_con':>8s} {'satur':>8s} {'gradient':>8s} "
        f"{'dark':>8s} {'hist_to_cyc':>11s} {'s/image':>8s}"
    ]
    for c, name in enumerate(COLUMNS):
        stats = [image_stats(r[c]) for r in rows]
        mean = {k: float(np.mean([s[k] for s in stats])) for k in stats[0]}
        dist = float(np.mean([histogram_distance(r[c], r[-1]) for r in rows]))
        sec = float(np.mean([s[c] for s in secs]))
        lines.append(
            f"{name:18s} {mean['mean_lum']:8.3f} {mean['rms_contrast']:8.3f} "
            f"{mean['saturation']:8.3f} {mean['gradient']:8.4f} {mean['dark']:8.3f} "
            f"{dist:11.3f} {sec:8.2f}"
        )
    return "\n".join(lines)


def draw_sheet(rows: list[list[np.ndarray]], labels: list[str], out: Path, tile: int) -> None:
    """Rows of (old | new | Cycles) on white with a header and a label per row."""
    head, label = 16, 14
    sheet = Image.new("RGB", (tile * 3, head + len(rows) * (tile + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, name in enumerate(COLUMNS):
        draw.text((c * tile + 4, 2), name, fill="black")
    for r, (images, text) in enumerate(zip(rows, labels, strict=True)):
        y = head + r * (tile + label)
        draw.text((4, y + 1), text, fill="black")
        for c, im in enumerate(images):
            pic = Image.fromarray((on_white(im) * 255).round().astype(np.uint8))
            sheet.paste(pic.resize((tile, tile), Image.Resampling.LANCZOS), (c * tile, y + label))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("docs/experiments/light_sheet.png"))
    p.add_argument("--size", type=int, default=192, help="render size in pixels")
    p.add_argument("--per-source", type=int, default=3)
    args = p.parse_args(argv)
    rows, secs, labels = [], [], []
    for i, shape in enumerate(pick_shapes(args.per_source)):
        hdri = HDRIS[i % len(HDRIS)]
        images, s = render_row(shape, hdri, stable_seed(shape.shape_id, "light"), args.size)
        rows.append(images)
        secs.append(s)
        labels.append(f"{shape.shape_id} | {hdri}")
        print(f"{labels[-1]}: " + ", ".join(f"{x:.2f} s" for x in s), flush=True)
    draw_sheet(rows, labels, args.out, args.size)
    print(summarise(rows, secs))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
