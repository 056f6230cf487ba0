"""Re-framing photo k so that the predictor can read it in the reference photo's frame.

A photo's own framing (``backend.framing``) centres the object and fixes its size, which throws
away where the object stands and how large it looks from that camera. For an extra photo both
follow from the shape predicted from photo 0: project it through camera k and frame photo k's
cut-out so that its silhouette box lands on that projection's box. The scale comes from the
vertical extent, which depends least on the depth the reference view must guess; the offset from
the box centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from ..contract import MODEL_INPUT_SIZE, project

FLAT_RATIO = 0.05  # a box less tall than this share of its width is scaled by its width
MAX_ENLARGED = 4  # the re-framed cut-out's longer side is at most this many canvas sides


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in image NDC (x right, y down, [-1, 1])."""

    left: float
    top: float
    right: float
    bottom: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    @property
    def height(self) -> float:
        return self.bottom - self.top

    @property
    def width(self) -> float:
        return self.right - self.left


def transformed(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Reference view-frame points [N, 3] in photo k's view frame."""
    m = np.asarray(transform, np.float64)
    return np.asarray(points, np.float64) @ m[:3, :3].T + m[:3, 3]


def projected_box(vertices: np.ndarray, transform: np.ndarray) -> Box:
    """The box of the shape's projection through camera k (``transforms[k]``)."""
    p = transformed(vertices, transform)
    u, v, _ = project(p[:, 0], p[:, 1], p[:, 2])
    return Box(float(u.min()), float(v.min()), float(u.max()), float(v.max()))


def mask_box(alpha: np.ndarray) -> Box:
    """The box of a mask (alpha > 127 for uint8, > 0.5 for float) in the image's NDC."""
    threshold = 127 if alpha.dtype == np.uint8 else 0.5
    rows, cols = np.nonzero(alpha > threshold)
    if rows.size == 0:
        raise ValueError("the mask is empty")
    h, w = alpha.shape
    return Box(2 * cols.min() / w - 1, 2 * rows.min() / h - 1,
               2 * (cols.max() + 1) / w - 1, 2 * (rows.max() + 1) / h - 1)


def box_scale(photo: Box, target: Box) -> float:
    """How much larger the target box is than the photo's (both in the same units): by height,
    or by width when the target is too flat for its height to mean anything."""
    if target.height >= FLAT_RATIO * target.width and photo.height > 0:
        return target.height / photo.height
    return target.width / max(photo.width, 1e-9)


def reframe_cutout(cutout: np.ndarray, target: Box, size: int = MODEL_INPUT_SIZE) -> np.ndarray:
    """Photo k's cut-out (uint8 RGBA, any size) on a transparent square of ``size``, scaled and
    shifted so that its mask box is ``target`` (NDC of the square).

    Resampled once in premultiplied alpha, as ``frame_object`` does, so no dark fringe leaks in.
    """
    rows, cols = np.nonzero(cutout[..., 3] > 127)
    if rows.size == 0:
        raise ValueError("reframe_cutout needs a non-empty mask")
    top, bottom, left, right = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
    in_pixels = Box(float(left), float(top), float(right), float(bottom))
    target_pixels = Box(*((c + 1) / 2 * size for c in
                          (target.left, target.top, target.right, target.bottom)))
    # a photo whose outline is far flatter than the shape's would otherwise be blown up to an
    # enormous picture; past MAX_ENLARGED it could not be laid over the shape anyway
    scale = min(box_scale(in_pixels, target_pixels),
                MAX_ENLARGED * size / max(right - left, bottom - top))
    new_w = max(1, round((right - left) * scale))
    new_h = max(1, round((bottom - top) * scale))
    cx, cy = target_pixels.centre
    crop = Image.fromarray(np.ascontiguousarray(cutout[top:bottom, left:right]), "RGBA")
    resized = crop.convert("RGBa").resize((new_w, new_h), Image.Resampling.LANCZOS).convert("RGBA")
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    canvas.paste(resized, (round(cx - new_w / 2), round(cy - new_h / 2)))
    return np.asarray(canvas, dtype=np.uint8)
