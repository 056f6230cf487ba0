"""Choosing a predictor: the shipped network when its weights are present, else the baseline."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import BackendError
from .base import Prediction, Predictor
from .silhouette import SilhouettePredictor

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
NETWORK_WEIGHTS = WEIGHTS_DIR / "slice3d_compact.safetensors"
KINDS = ("auto", "network", "baseline")

__all__ = ["KINDS", "Prediction", "Predictor", "load_predictor", "network_available"]


def network_available(weights: Path = NETWORK_WEIGHTS) -> bool:
    return weights.is_file()


def load_predictor(
    kind: str = "auto", device: torch.device | None = None, weights: Path = NETWORK_WEIGHTS
) -> Predictor:
    """'auto' is the network when weights exist, the silhouette baseline otherwise."""
    device = device or torch.device("cpu")
    if kind not in KINDS:
        raise BackendError("bad_options", f"Unknown predictor {kind!r}; use one of {KINDS}.")
    if kind == "baseline" or (kind == "auto" and not network_available(weights)):
        return SilhouettePredictor(device)
    if not network_available(weights):
        raise BackendError(
            "bad_options", f"The network predictor needs weights at {weights}, and there are none."
        )
    from .network import NetworkPredictor

    return NetworkPredictor(device, weights)
