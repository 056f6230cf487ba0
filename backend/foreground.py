"""Foreground masks: the image's own alpha when it means something, else background removal."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
from scipy import ndimage

from . import u2net_model
from .errors import BackendError

BackgroundMode = Literal["auto", "alpha", "remove"]
MIN_OBJECT_FRACTION = 0.002  # below this share of the pixels there is no object to speak of
GPU_PROVIDER = "CUDAExecutionProvider"  # onnxruntime-gpu's, where it is installed
CPU_PROVIDER = "CPUExecutionProvider"

_session_lock = threading.Lock()
_sessions: dict[str, Any] = {}  # one u2netp session per device kind ("cpu", "cuda")
_PRIVATE_PACKAGE = "_slice3d_rembg_sessions"


def alpha_is_meaningful(rgba: np.ndarray) -> bool:
    """True when alpha separates something from something: neither all opaque nor all clear."""
    alpha = rgba[..., 3]
    opaque = np.mean(alpha > 127)
    return bool(alpha.min() < 250 and MIN_OBJECT_FRACTION <= opaque <= 0.995)


def extract_foreground(
    rgba: np.ndarray, has_alpha: bool, mode: BackgroundMode = "auto", device: str = "cpu"
) -> tuple[np.ndarray, str]:
    """Return (RGBA with the object's mask as alpha, method used: 'alpha' or 'rembg'); the
    background remover runs on the job's ``device`` kind where ONNX Runtime can
    (``onnx_providers``)."""
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
        out[..., 3] = _remove_background(rgba, device)
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


def _remove_background(rgba: np.ndarray, device: str = "cpu") -> np.ndarray:
    """The u2netp mask (uint8) of the RGB image, computed with rembg's u2netp session."""
    from PIL import Image

    session = _rembg_session(device)
    rgb = Image.fromarray(np.ascontiguousarray(rgba[..., :3]))
    mask = session.predict(rgb)[0]
    return np.asarray(mask.convert("L"), dtype=np.uint8)


def onnx_providers(device: str, available: Sequence[str]) -> list[str]:
    """ONNX Runtime's providers for a job on ``device`` ("cpu", "cuda"), given those installed.

    CUDA first for a GPU job where onnxruntime-gpu offers it, the CPU always as the fallback.
    Left to itself rembg takes every provider installed (TensorRT's too, which builds an engine
    on first use), whatever device the job runs on."""
    return ([GPU_PROVIDER] if device == "cuda" and GPU_PROVIDER in available else []) + [
        CPU_PROVIDER]


def _rembg_session(device: str = "cpu") -> Any:
    """One rembg u2netp session per process and device kind (loading the ONNX model costs
    about a second)."""
    kind = "cuda" if device == "cuda" else "cpu"
    with _session_lock:
        if kind not in _sessions:
            folder = u2net_model.models_dir()
            try:
                _sessions[kind] = _new_u2netp_session(folder, kind)
            except Exception as exc:  # rembg raises whatever its download or ONNX load raised
                raise BackendError(
                    "background_removal_unavailable",
                    f"{u2net_model.missing_message(folder)} ({type(exc).__name__})",
                ) from exc
        return _sessions[kind]


def mask_providers(device: str = "cpu") -> list[str]:
    """The providers the background remover's session for ``device`` runs on (loads it)."""
    return list(_rembg_session(device).inner_session.get_providers())


def _new_u2netp_session(folder: Path, device: str) -> Any:
    """rembg's U2netpSession, reading (or downloading into) ``folder``, as rembg.new_session builds
    it (same ONNX session options; the providers ``onnx_providers`` picks for ``device``), but
    without running rembg/__init__.py.

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
    return Session("u2netp", opts, onnx_providers(device, ort.get_available_providers()))


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
