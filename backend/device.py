"""Device choice: CUDA when asked for or available, the CPU otherwise."""

from __future__ import annotations

import torch

from .errors import BackendError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BackendError("bad_options", "CUDA was requested, but no CUDA GPU is available here.")
    if name not in ("cpu", "cuda"):
        raise BackendError("bad_options", f"Unknown device {name!r}; use auto, cuda or cpu.")
    return torch.device(name)
