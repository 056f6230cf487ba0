"""Foreground masks: the image's own alpha when it means something, else background removal."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from . import u2net_model
from .errors import BackendError

BackgroundMode = Literal["auto", "alpha", "remove"]
MIN_OBJECT_FRACTION = 0.002  # below this share of the pixels there is no object to speak of

_session_lock = threading.Lock()
_session: Any = None
_PRIVATE_PACKAGE = "_slice3d_rembg_sessions"


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
    """The u2netp mask (uint8) of the RGB image, computed with rembg's u2netp session."""
    from PIL import Image

    session = _rembg_session()
    rgb = Image.fromarray(np.ascontiguousarray(rgba[..., :3]))
    mask = session.predict(rgb)[0]
    return np.asarray(mask.convert("L"), dtype=np.uint8)


def _rembg_session() -> Any:
    """One rembg u2netp session per process (loading the ONNX model costs about a second)."""
    global _session
    with _session_lock:
        if _session is None:
            folder = u2net_model.models_dir()
            try:
                _session = _new_u2netp_session(folder)
            except Exception as exc:  # rembg raises whatever its download or ONNX load raised
                raise BackendError(
                    "background_removal_unavailable",
                    f"{u2net_model.missing_message(folder)} ({type(exc).__name__})",
                ) from exc
        return _session


def _new_u2netp_session(folder: Path) -> Any:
    """rembg's U2netpSession, reading (or downloading into) ``folder``, as rembg.new_session builds
    it (same ONNX session options), but without running rembg/__init__.py.

    ``import rembg`` (or any ``rembg.x``) runs rembg/__init__.py, which imports rembg.bg and with
    it pymatting, whose numba functions carry signatures and so compile at import: 55-67 s in a
    new user's first job, for alpha matting the backend never uses. rembg's session classes need
    none of that, so their two files (sessions/base.py, sessions/u2netp.py) are loaded from
    rembg's install under a private package name: the same code, the same masks.
    """
    import onnxruntime as ort

    session_class = _rembg_sessions_module("u2netp").U2netpSession

    class Session(session_class):  # type: ignore[misc, valid-type]
        @classmethod
        def u2net_home(cls, *args: Any, **kwargs: Any) -> str:
            return str(folder)  # models_dir(), not rembg's own reading of U2NET_HOME

    opts = ort.SessionOptions()
    if "OMP_NUM_THREADS" in os.environ:  # as rembg.new_session does
        opts.inter_op_num_threads = int(os.environ["OMP_NUM_THREADS"])
        opts.intra_op_num_threads = int(os.environ["OMP_NUM_THREADS"])
    return Session("u2netp", opts, None)


def _rembg_sessions_module(name: str) -> ModuleType:
    """rembg/sessions/<name>.py imported as _slice3d_rembg_sessions.<name> (no rembg/__init__)."""
    package = sys.modules.get(_PRIVATE_PACKAGE)
    if package is None:
        spec = importlib.util.find_spec("rembg")  # finds the package without importing it
        if spec is None or not spec.submodule_search_locations:
            raise ModuleNotFoundError("No module named 'rembg'")
        folder = Path(list(spec.submodule_search_locations)[0]) / "sessions"
        package_spec = importlib.machinery.ModuleSpec(_PRIVATE_PACKAGE, None, is_package=True)
        package_spec.submodule_search_locations = [str(folder)]
        package = importlib.util.module_from_spec(package_spec)
        sys.modules[_PRIVATE_PACKAGE] = package
    return importlib.import_module(f"{_PRIVATE_PACKAGE}.{name}")
