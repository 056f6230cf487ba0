"""The Predictor interface: one framed image in, slice images and an SDF function out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace

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
    search_sdf: a cheaper function near ``sdf`` that the mesher's coarse levels use only to find
        where the surface passes (``backend.meshing.evaluate_coarse_to_fine``); None: sdf.
    """

    slices: np.ndarray
    slabs: list[Slab]
    sdf: SdfFunction
    silhouette_fill: SilhouetteFill | None = None
    colour_at: ColourFunction | None = None
    search_sdf: SdfFunction | None = None


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

    def predict_views(
        self, images: list[np.ndarray], transforms: list[np.ndarray],
        flip_average: bool | None = None,
    ) -> Prediction:
        """One prediction from several photos of one object (ARCHITECTURE.md, issue 35).

        ``images[k]`` is photo k's framed model input; ``transforms[k]`` (float 4x4) maps
        reference view-frame points to photo k's view frame (``transforms[0]`` is the identity).
        The result is in the reference frame: slices, slabs, silhouette fill and colours from
        photo 0. This model-agnostic fusion predicts every photo on its own and intersects their
        SDFs (a point is inside only where every photo says so; for the silhouette baseline that
        is the visual hull). A predictor that reads all views at once overrides this.
        """
        check_views(images, transforms)
        predictions = [self.predict(image, flip_average) for image in images]
        if len(predictions) == 1:
            return predictions[0]
        return replace(predictions[0], sdf=intersected_sdf(
            [p.sdf for p in predictions], transforms))

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


def check_views(images: list[np.ndarray], transforms: list[np.ndarray]) -> None:
    """Refuse a view list the fusion cannot read, with a message that says what is wrong."""
    if not images:
        raise ValueError("predict_views needs at least one image")
    if len(transforms) != len(images):
        raise ValueError(f"predict_views got {len(images)} images but {len(transforms)} transforms")
    for k, t in enumerate(transforms):
        if np.shape(t) != (4, 4):
            raise ValueError(f"transforms[{k}] must be a 4x4 matrix, not shape {np.shape(t)}")


def transform_scale(transform: np.ndarray) -> float:
    """The uniform scale of a view-to-view transform: the cube root of its 3x3 determinant."""
    return float(np.cbrt(np.linalg.det(np.asarray(transform, np.float64)[:3, :3])))


def intersected_sdf(sdfs: list[SdfFunction], transforms: list[np.ndarray]) -> SdfFunction:
    """The intersection (max) of per-view SDFs, each read at the points moved into its view's
    frame and divided by that view's scale, so every distance is in reference units."""
    mats = [np.asarray(t, np.float64) for t in transforms]
    scales = [transform_scale(m) for m in mats]

    def in_view(k: int, points: torch.Tensor) -> torch.Tensor:
        rot = torch.as_tensor(mats[k][:3, :3], dtype=points.dtype, device=points.device)
        shift = torch.as_tensor(mats[k][:3, 3], dtype=points.dtype, device=points.device)
        return sdfs[k](points @ rot.T + shift).to(points) / scales[k]

    def fused(points: torch.Tensor) -> torch.Tensor:
        out = in_view(0, points)
        for k in range(1, len(sdfs)):
            out = torch.maximum(out, in_view(k, points))
        return out

    return fused
