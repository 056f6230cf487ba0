"""Contact sheet: per sample, the input image, its 12 slices and an SDF cross-section (the
view-frame plane z = 0: blue inside, red outside, black zero level), for people to check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from training.data.pipeline import Timer, make_samples
from training.data.sources import get_source
from training.data.sources.base import Dropped, stable_seed
from training.data.views import View

TILE = 96


def _checker(n: int) -> np.ndarray:
    k = (np.add.outer(np.arange(n) // 8, np.arange(n) // 8) % 2).astype(np.float64)
    return (200 + 40 * k)[..., None] * np.ones(3)


def _over(rgba: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:4] / 255.0
    return (rgba[..., :3] * a + _checker(rgba.shape[0]) * (1 - a)).astype(np.uint8)


def _tile(img: np.ndarray) -> Image.Image:
    return Image.fromarray(img).resize((TILE, TILE), Image.LANCZOS)


def sdf_section(sdf_obj, view: View, n: int = TILE) -> np.ndarray:
    """RGB picture of the view-frame SDF on the plane z = 0 over [-0.55, 0.55]^2 (y up)."""
    c = (np.arange(n) + 0.5) / n * 1.1 - 0.55
    x, y = np.meshgrid(c, c[::-1])
    pv = np.stack([x, y, np.zeros_like(x)], -1).reshape(-1, 3)
    d = (view.scale * sdf_obj(view.to_object(pv))).reshape(n, n)
    band = 0.75 + 0.25 * np.cos(d * 2 * np.pi / 0.05)
    inside = np.array([60, 110, 230.0])
    outside = np.array([230, 120, 80.0])
    img = np.where(d[..., None] < 0, inside, outside) * band[..., None]
    img[np.abs(d) < 0.006] = 0
    return np.clip(img, 0, 255).astype(np.uint8)


def contact_sheet(sources: list[str], count: int, out: Path, seed: int = 0) -> None:
    rows: list[tuple[str, list[Image.Image]]] = []
    for name in sources:
        src = get_source(name)
        got = 0
        for shape_id, _ in src.list_shapes(10 * count + 50)[
            seed :: max(1, 7 if name != "cgal" else 1)
        ]:
            if got >= count:
                break
            rng = np.random.default_rng(stable_seed(shape_id, "sheet", seed))
            shape = src.load(shape_id, rng)
            if isinstance(shape, Dropped):
                continue
            s = make_samples(shape, 1, rng, Timer())[0]
            view = View(*[float(x) for x in s["view"]])
            tiles = [_tile(_over(s["image"]))]
            for sl in s["slices"]:
                g = np.repeat(sl[..., :1], 4, -1)
                g[..., 3] = sl[..., 1]
                tiles.append(_tile(_over(g)))
            tiles.append(Image.fromarray(sdf_section(shape.sampler.sdf, view)))
            rows.append((f"{shape_id} ({shape.family})", tiles))
            got += 1
    label = 14
    sheet = Image.new("RGB", (TILE * 14, len(rows) * (TILE + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (text, tiles) in enumerate(rows):
        y = r * (TILE + label)
        draw.text((2, y + 1), text + "   input | X1..X4 Y1..Y4 Z1..Z4 | SDF z=0", fill="black")
        for c, t in enumerate(tiles):
            sheet.paste(t, (c * TILE, y + label))
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
