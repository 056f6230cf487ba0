"""A sheet that shows shards' ``colors`` are right: per sample, the input image, its near-surface
SDF points splatted through the same camera in their label colour (nearest drawn last), and the
same points seen from behind (the side the photo cannot see).

``python -m training.data.color_sheet OUT.png SHARD.npz[:ROW] ...``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from backend.geometry import CAMERA_DISTANCE, FOCAL_NDC

NEAR = 0.01  # |sdf| of the points drawn (view-frame units)


def splat(points: np.ndarray, colors: np.ndarray, size: int, back: bool = False) -> np.ndarray:
    """RGB [size, size, 3] on white: points projected by the data camera, 2x2 px each."""
    p = points.astype(np.float64).copy()
    if back:  # turn the object 180 degrees about the view's up axis
        p[:, 0], p[:, 2] = -p[:, 0], -p[:, 2]
    depth = CAMERA_DISTANCE - p[:, 2]
    col = ((FOCAL_NDC * p[:, 0] / depth + 1) / 2 * size).astype(int)
    row = ((-FOCAL_NDC * p[:, 1] / depth + 1) / 2 * size).astype(int)
    img = np.full((size, size, 3), 255, np.uint8)
    for k in np.argsort(-depth):  # far first: the nearest point of a pixel wins
        r, c = row[k], col[k]
        if 0 <= r < size - 1 and 0 <= c < size - 1:
            img[r : r + 2, c : c + 2] = colors[k, :3]
    return img


def sheet_rows(specs: list[str], size: int = 192) -> np.ndarray:
    """One row per ``SHARD.npz[:ROW]``: input on white, front splat, back splat."""
    rows = []
    for spec in specs:
        path, _, idx = spec.partition(":")
        with np.load(path) as z:
            i = int(idx or 0)
            image, pts, sdf, colors = z["image"][i], z["points"][i], z["sdf"][i], z["colors"][i]
        a = image[..., 3:4].astype(np.float64) / 255
        photo = (image[..., :3] * a + 255 * (1 - a)).astype(np.uint8)
        photo = np.asarray(Image.fromarray(photo).resize((size, size), Image.BILINEAR))
        keep = (np.abs(sdf.astype(np.float64)) < NEAR) & (colors[:, 3] > 0)
        front = splat(pts[keep], colors[keep], size)
        back = splat(pts[keep], colors[keep], size, back=True)
        rows.append(np.concatenate([photo, front, back], axis=1))
    return np.concatenate(rows, axis=0)


def main(argv: list[str]) -> int:
    out, specs = Path(argv[0]), argv[1:]
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet_rows(specs)).save(out, optimize=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
