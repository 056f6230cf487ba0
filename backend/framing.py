"""Framing: crop to the object, pad to square and resize so it sits as training objects do."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .geometry import (
    FRAMING_FILL,
    FRAMING_KEEP_AREA,
    FRAMING_KEEP_FILL,
    FRAMING_KEEP_OFFSET,
    FRAMING_KEEP_SHORT_FILL,
    MODEL_INPUT_SIZE,
)


def frame_object(
    rgba: np.ndarray, size: int = MODEL_INPUT_SIZE, fill: float = FRAMING_FILL,
    keep_if_framed: bool = True,
) -> np.ndarray:
    """Centre the object's mask bounding box in a square canvas, longer side = fill * size.

    A square image whose object already sits as in the training renders (keep_if_framed) is only
    resized: re-framing it would discard the scale its apparent size tells. Returns uint8
    [size, size, 4] with a transparent background. Resampling happens once, in premultiplied
    alpha, so no dark fringe leaks in from the discarded background.
    """
    mask = rgba[..., 3] > 127
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        raise ValueError("frame_object needs a non-empty mask")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    box = max(bottom - top, right - left)
    if keep_if_framed and _framed_like_training(mask, top, bottom, left, right):
        top, bottom, left, right = 0, rgba.shape[0], 0, rgba.shape[1]
        box = max(bottom - top, right - left)
        fill = 1.0
    scale = fill * size / box
    crop = Image.fromarray(np.ascontiguousarray(rgba[top:bottom, left:right]), "RGBA")
    new_w = max(1, round((right - left) * scale))
    new_h = max(1, round((bottom - top) * scale))
    resized = crop.convert("RGBa").resize((new_w, new_h), Image.Resampling.LANCZOS).convert("RGBA")
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(resized, ((size - new_w) // 2, (size - new_h) // 2))
    return np.asarray(canvas, dtype=np.uint8)


def to_model_input(rgba: np.ndarray, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
    """RGBA uint8 of any size -> float32 [size, size, 4] in [0, 1], RGB composited on white.

    Training renders and framed photos both pass through here, so the network sees one look.
    """
    img = Image.fromarray(np.ascontiguousarray(rgba), "RGBA")
    if img.size != (size, size):
        img = img.convert("RGBa").resize((size, size), Image.Resampling.BILINEAR).convert("RGBA")
    arr = np.asarray(img, dtype=np.float32) / 255.0
    alpha = arr[..., 3:4]
    rgb = arr[..., :3] * alpha + (1.0 - alpha)
    return np.concatenate([rgb, alpha], axis=-1)


def _framed_like_training(mask: np.ndarray, top: int, bottom: int, left: int, right: int) -> bool:
    height, width = mask.shape
    if abs(height - width) > 0.02 * max(height, width):
        return False
    side = max(height, width)
    fill = max(bottom - top, right - left) / side
    short = min(bottom - top, right - left) / side
    offset = max(abs((top + bottom) / 2 - height / 2), abs((left + right) / 2 - width / 2))
    lo, hi = FRAMING_KEEP_FILL
    return (lo <= fill <= hi and short <= FRAMING_KEEP_SHORT_FILL
            and mask.mean() <= FRAMING_KEEP_AREA and offset / side <= FRAMING_KEEP_OFFSET)
