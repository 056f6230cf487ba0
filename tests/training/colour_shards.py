"""Tiny shards with surface colours (``colors``), for the colour head's tests.

The tiny spheres (``slice3d_tiny``) are painted in the photo's colour on the side facing the
camera (z above the centre) and blue on the far side, the case the colour head exists for: the
back is not what copying the photo along the view axis gives. Points farther than ``BAND`` from
the surface get no colour (alpha 0), as the data engine leaves them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

FRONT = (180, 140, 90)  # the tiny spheres' photo colour
BACK = (40, 60, 200)
BAND = 0.05


def paint(points: np.ndarray, sdf: np.ndarray, centre_z: np.ndarray) -> np.ndarray:
    """uint8 [N,P,4]: FRONT or BACK by the side of each sphere, alpha 255 within BAND."""
    back = points[..., 2].astype(np.float32) < centre_z[:, None]
    rgba = np.zeros(points.shape[:2] + (4,), np.uint8)
    rgba[..., :3] = np.where(back[..., None], BACK, FRONT)
    rgba[..., 3] = np.where(np.abs(sdf.astype(np.float32)) < BAND, 255, 0)
    return rgba


def add_colours(root: Path, splits: tuple[str, ...] = ("train", "val")) -> Path:
    """Write ``colors`` into the shards of ``splits`` (in place); the others stay without."""
    manifest = json.loads((root / "manifest.json").read_text())
    for split in splits:
        for rel in manifest["splits"][split]:
            with np.load(root / rel) as z:
                arrays = {k: z[k] for k in z.files}
            centre_z = arrays["bbox"].mean(axis=1)[:, 2]
            arrays["colors"] = paint(arrays["points"], arrays["sdf"], centre_z)
            np.savez(root / rel, **arrays)
    return root
