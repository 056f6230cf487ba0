"""The Predictor interface: one framed image in, slice images and an SDF function out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..geometry import Slab
from ..silhouette_fill import SilhouetteFill

SdfFunction = Callable[[torch.Tensor], torch.Tensor]
# View-frame points [N, 3] (NumPy float) -> sRGB colours [N, 3] in 0..1: what a model believes the
# surface looks like there, for the parts the photo does not show (backend.texture).
ColourFunction = Callable[[np.ndarray], np.ndarray]


@dataclass
class Prediction:
    """What a predictor says about one image.

    slices: uint8 [12, S, S, 4] RGBA slice images, X1..X4, Y1..Y4, Z1..Z4 (ARCHITECTURE.md).
    slabs: the 12 view-frame slabs those images stand for.
    sdf: maps float32 view-frame points [N, 3] on ``device`` to signed distances [N]
        (negative inside). Image features are computed once in ``predict`` and captured here,
        so calling it chunk after chunk costs only the per-point part.
    colour_at: a model's colour for surface points the photo does not show, captured like sdf;
        None when the model has no colour head (read it through ``Predictor.colour_function``).
    silhouette_fill: when set, the mesher puts a thin sheet on every masked ray that the SDF's
        surface misses (``backend.silhouette_fill``) before marching cubes.
    """

    slices: np.ndarray
    slabs: list[Slab]
    sdf: SdfFunction
    silhouette_fill: SilhouetteFill | None = None
    colour_at: ColourFunction | None = None


class Predictor(ABC):
    """Turns a framed model input into a Prediction.

    The input is float32 [S, S, 4] RGBA in [0, 1], S = MODEL_INPUT_SIZE, straight alpha, RGB
    composited on white where alpha is 0 (``backend.framing`` makes it).
    """

    name: str
    is_baseline: bool
    weights_sha256: str | None = None

    def __init__(self, device: torch.device) -> None:
        self.device = device

    @abstractmethod
    def predict(self, image: np.ndarray, flip_average: bool | None = None) -> Prediction:
        """Predict slices and an SDF function for one framed image.

        ``flip_average`` overrides a network's test-time mirror average for this call (None:
        the predictor's own setting); predictors without one ignore it.
        """

    def colour_function(self, prediction: Prediction) -> ColourFunction | None:
        """The predicted colour of unseen surface points for this prediction, or None.

        The texture bake asks this for the back and the hidden parts; None (no colour head)
        makes it fall back to the object's median visible colour. A predictor with a colour
        head sets ``Prediction.colour_at`` in ``predict`` or overrides this.
        """
        return prediction.colour_at

    @property
    def label(self) -> str:
        """Human-facing name; a baseline always says so."""
        return f"{self.name} (baseline)" if self.is_baseline else self.name
