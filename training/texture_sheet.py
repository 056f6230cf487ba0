"""The colour measurement's picture: shapes in rows; reference, vertex colours and texture
side by side for each chosen view, so a reader sees what the numbers mean (front copied onto the
back, or not)."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from training.texture_render import Render, to_uint8

COLUMNS = (("reference", "reference"), ("vertex", "vertex colours"), ("texture", "texture"))


def write_sheet(rows: list[dict], views: tuple[str, ...], path: Path, tile: int = 96) -> None:
    """``rows``: [{label, renders: {column: {view: Render}}}] -> one PNG, tiles grouped by view."""
    head = 28
    cols = [(view, key, words) for view in views for key, words in COLUMNS]
    sheet = Image.new("RGB", (tile * len(cols), head + tile * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, (view, _, words) in enumerate(cols):
        draw.text((c * tile + 3, 2), view, fill="black")
        draw.text((c * tile + 3, 14), words, fill="black")
    for r, row in enumerate(rows):
        for c, (view, key, _) in enumerate(cols):
            img: Render = row["renders"][key][view]
            pic = Image.fromarray(to_uint8(img)).resize((tile, tile), Image.Resampling.BILINEAR)
            sheet.paste(pic, (c * tile, head + r * tile))
        draw.text((3, head + r * tile + 2), row["label"].split("__")[-1][:14], fill="black")
    sheet.save(path, optimize=True)
