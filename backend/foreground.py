"""Foreground masks: the image's own alpha when it means something, else background removal."""

from __future__ import annotations

import os
import threading
from typing import Literal

import numpy as np
from scipy import ndimage

from . import u2net_model
from .errors import BackendError

BackgroundMode = Literal["auto", "alpha", "remove"]
MIN_OBJECT_FRACTION = 0.002  # below this share of the pixels there is no object to speak of

_session_lock = threading.Lock()
_session = None


def alpha_is_meaningful(rgba: np.ndarray) -> bool:
    """True when alpha separates something from something: neither all opaque nor all clear."""
    alpha = rgba[..., 3]
    opaque = np.mean(alpha > 127)
    return bool(alpha.min() < 250 and MIN_OBJECT_FRACTION <= opaque <= 0.995)


def extract_foreground(
    rgba: np.ndarray, has_alpha: bool, mode: BackgroundMode = "auto"
) -> tuple[np.ndarray, str]:
    """Return (RGBA with the object's mask as alpha, method used: 'alpha' or 'rembg')."""
    if mode not in ("auto", "alpha", "remove"):
        raise BackendError("bad_options", f"Unknown background mode {mode!r}.")
    use_alpha = has_alpha and alpha_is_meaningful(rgba)
    if mode == "alpha" and not use_alpha:
        raise BackendError(
            "bad_image",
            "The image has no usable transparency to cut the object out with; "
            "choose background removal instead, or give a PNG with a transparent background.",
        )
    if use_alpha and mode != "remove":
        out, method = rgba.copy(), "alpha"
    else:
        out, method = rgba.copy(), "rembg"
        out[..., 3] = _remove_background(rgba)
    out[..., 3] = _keep_main_parts(out[..., 3])
    if np.mean(out[..., 3] > 127) < MIN_OBJECT_FRACTION:
        raise BackendError(
            "no_object",
            "No object was found in the image: the cut-out is empty. Use a picture of one object "
            "against a plain background, or a PNG with a transparent background.",
        )
    return out, method


def _keep_main_parts(alpha: np.ndarray) -> np.ndarray:
    """Drop specks: keep connected parts with at least 5% of the largest part's area."""
    labels, count = ndimage.label(alpha > 127)
    if count <= 1:
        return alpha
    sizes = ndimage.sum_labels(np.ones_like(labels), labels, index=np.arange(1, count + 1))
    keep = np.zeros(count + 1, dtype=bool)
    keep[1:] = sizes >= 0.05 * sizes.max()
    grown = ndimage.binary_dilation(keep[labels], iterations=2)
    return np.where(grown, alpha, 0).astype(np.uint8)


def _remove_background(rgba: np.ndarray) -> np.ndarray:
    """The u2netp mask (uint8) of the RGB image, computed with rembg."""
    from PIL import Image

    session = _rembg_session()
    rgb = Image.fromarray(np.ascontiguousarray(rgba[..., :3]))
    mask = session.predict(rgb)[0]
    return np.asarray(mask.convert("L"), dtype=np.uint8)


def _rembg_session():
    """One rembg session per process (loading the ONNX model costs about a second)."""
    global _session
    with _session_lock:
        if _session is None:
            os.environ.setdefault("U2NET_HOME", str(u2net_model.model_home()))
            try:
                from rembg import new_session

                _session = new_session("u2netp")
            except Exception as exc:  # rembg raises whatever its download or ONNX load raised
                raise BackendError(
                    "background_removal_unavailable",
                    "Background removal is not available: the u2netp model is not installed and "
                    "could not be downloaded. Run `python -m backend setup-models`, or use an "
                    f"image with a transparent background. ({type(exc).__name__})",
                ) from exc
        return _session
