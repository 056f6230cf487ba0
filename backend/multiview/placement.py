"""Placing the extra photos of a job: their poses (given, or found), whether each is used, and
their model inputs re-framed into the reference frame. The bundle's ``views`` entries come from
here (docs/API.md)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from ..framing import frame_object, to_model_input
from ..predictors.base import Prediction, Predictor
from .pose_search import PhotoTarget, search_poses
from .poses import camera_to_view, matrix_json, view_transform
from .reframe import Box, projected_box, reframe_cutout
from .shape import CoarseShape, coarse_shape

# A photo whose silhouette agrees less than this (IoU, box to box) with the reference shape
# under its best pose shows another object, or a side the guess got wrong: left out when its
# pose was searched, used with a warning when it was given.
MIN_CONFIDENCE = 0.6
# A photo whose azimuth was searched is used only from this agreement on. On the validation
# split, photos fused at found poses made the shape worse than the first photo alone at every
# lower threshold (two / four photos, Chamfer-L1: +13.7% / +7.3% from 0.6, +4.4% / +5.5% from
# 0.8, +0.9% / +1.4% from 0.9; docs/experiments/multiview.md), so a found pose must agree almost
# exactly, and the message asks for the azimuth instead.
MIN_FOUND_CONFIDENCE = 0.9


@dataclass
class ViewEntry:
    """One photo's line in result.json's ``views`` and, when used, what the predictor reads."""

    index: int
    source: str
    used: bool
    pose: str | None = None  # "given" | "found" | None
    azimuth: float | None = None
    elevation: float | None = None
    confidence: float | None = None
    message: str | None = None
    transform: np.ndarray | None = None  # reference view frame -> this photo's view frame
    model_input: np.ndarray | None = None  # float32 [S, S, 4], re-framed (photo k >= 1)
    # photo k >= 1, used: its cut-out and the box it is re-framed onto, so the texture can frame
    # it again at its own size (never written to result.json)
    cutout: np.ndarray | None = None  # uint8 RGBA, as masked
    target: Box | None = None

    def to_json(self) -> dict:
        pose = (camera_to_view(self.transform) if self.used and self.transform is not None
                else None)
        return {
            "index": self.index, "source": self.source, "used": self.used, "pose": self.pose,
            "azimuth": _rounded(self.azimuth), "elevation": _rounded(self.elevation),
            "confidence": _rounded(self.confidence, 4), "message": self.message,
            "camera_to_view": matrix_json(pose) if pose is not None else None,
            "input": (("input.png" if self.index == 0 else f"views/{self.index}.png")
                      if pose is not None else None),
        }


@dataclass(frozen=True)
class ExtraPhoto:
    """Photo k >= 1 after the mask: its cut-out, or why it has none."""

    index: int
    source: str
    cutout: np.ndarray | None  # uint8 RGBA
    error: str | None = None


@dataclass
class Placement:
    views: list[ViewEntry]
    warnings: list[str] = field(default_factory=list)
    search_s: float = 0.0  # the pose search's own time
    candidates: int = 0  # poses scored


def single_view(source: str) -> ViewEntry:
    """The one entry of a one-photo job: the reference, placed by definition."""
    return ViewEntry(0, source, True, None, 0.0, None, None, None, np.eye(4), None)


def place_photos(
    shape: CoarseShape, reference_input: np.ndarray, reference_source: str,
    extras: Sequence[ExtraPhoto], azimuths: Sequence[float] | None,
    elevations: Sequence[float] | None, cancel: Callable[[], bool] | None = None,
    own_shape: Callable[[np.ndarray], CoarseShape] | None = None,
) -> Placement:
    """Every photo's entry, photo 0 first; extra photos re-framed and, where their pose was
    searched, kept only when they agree with the reference shape (MIN_CONFIDENCE; a searched
    azimuth needs MIN_FOUND_CONFIDENCE).

    ``own_shape`` (a model input -> that photo's own coarse shape), when given and the azimuths
    are searched, lets the search score every pose both ways (``search_poses``).
    """
    ready = [p for p in extras if p.cutout is not None]
    if not ready:  # nothing to place: photo 0 alone, its elevation as given (or unknown)
        placement = Placement([ViewEntry(0, reference_source, True,
                                         None if elevations is None else "given", 0.0,
                                         None if elevations is None else float(elevations[0]),
                                         None, None, np.eye(4), None)])
        for photo in extras:
            placement.views.append(_place(photo, None, False, 0.0, shape, placement.warnings))
        return placement
    pick = [0] + [p.index for p in ready]
    start = time.perf_counter()
    inputs = [to_model_input(frame_object(p.cutout)) for p in ready if p.cutout is not None]
    result = search_poses(
        shape, reference_input, [PhotoTarget.from_model_input(x) for x in inputs],
        None if azimuths is None else [azimuths[k] for k in pick],
        None if elevations is None else [elevations[k] for k in pick], cancel,
        photo_shapes=([own_shape(x) for x in inputs]
                      if own_shape is not None and azimuths is None else None))
    placement = Placement([], search_s=round(time.perf_counter() - start, 4),
                          candidates=result.candidates)
    given = azimuths is not None and elevations is not None
    ref_el = result.reference_elevation
    placement.views.append(ViewEntry(0, reference_source, True, "given" if elevations is not None
                                     else "found", 0.0, ref_el, None, None, np.eye(4), None))
    found = dict(zip((p.index for p in ready), result.poses, strict=True))
    for photo in extras:
        placement.views.append(_place(photo, found.get(photo.index), given, ref_el, shape,
                                      placement.warnings, searched=azimuths is None))
    return placement


def place_predicted(
    predictor: Predictor, prediction: Prediction, reference_input: np.ndarray,
    reference_source: str, extras: Sequence[ExtraPhoto], azimuths: Sequence[float] | None,
    elevations: Sequence[float] | None, device: torch.device,
    flip_average: bool | None = None, cancel: Callable[[], bool] | None = None,
) -> Placement:
    """``place_photos`` against photo 0's predicted coarse shape; with the network a search
    also reads each extra photo's own coarse shape (both-ways scoring; the baseline's inflated
    outlines guess no depth, and both ways misled it in the tests)."""
    shape = coarse_shape(prediction.sdf, reference_input[..., 3], device, cancel)

    def own_shape(photo_input: np.ndarray) -> CoarseShape:
        own = predictor.predict(photo_input, flip_average)
        return coarse_shape(own.sdf, photo_input[..., 3], device, cancel)

    return place_photos(shape, reference_input, reference_source, extras, azimuths, elevations,
                        cancel, None if predictor.is_baseline else own_shape)


def placed_inputs(reference_input: np.ndarray, placement: Placement
                  ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """What the predictor reads for a placed job: every used photo's model input (photo 0's
    as given, the others re-framed) and its transform from the reference view frame."""
    used = [v for v in placement.views if v.used]
    inputs = [reference_input] + [v.model_input for v in used[1:] if v.model_input is not None]
    transforms = [v.transform for v in used if v.transform is not None]
    if len(inputs) != len(used) or len(transforms) != len(used):
        raise ValueError("a used photo has no model input or no transform")
    return inputs, transforms


def _place(photo: ExtraPhoto, pose, given: bool, ref_el: float, shape: CoarseShape,
           warnings: list[str], searched: bool = False) -> ViewEntry:
    """``searched``: the photo's azimuth was found, not given (MIN_FOUND_CONFIDENCE applies)."""
    who = f"Photo {photo.index + 1}" + (f" ({photo.source})" if photo.source else "")
    if photo.cutout is None or pose is None:
        message = f"{who} was left out: {photo.error or 'it could not be read'}"
        warnings.append(message)
        return ViewEntry(photo.index, photo.source, False, message=message)
    entry = ViewEntry(photo.index, photo.source, True, "given" if given else "found",
                      pose.azimuth, pose.elevation, pose.confidence)
    if searched and MIN_CONFIDENCE <= pose.confidence < MIN_FOUND_CONFIDENCE:
        return _left_out(entry, warnings, (
            f"{who} was left out: the camera position found for it agrees only "
            f"{pose.confidence:.0%} with the first photo's object, too uncertain to use (at "
            f"least {MIN_FOUND_CONFIDENCE:.0%} needed); give its azimuth to use it."))
    if pose.confidence < MIN_CONFIDENCE:
        agreement = (f"its outline agrees only {pose.confidence:.0%} with the shape seen in the "
                     f"first photo (at least {MIN_CONFIDENCE:.0%} needed)")
        if not given:
            return _left_out(entry, warnings, (
                f"{who} was left out: no camera position makes it match the first photo's "
                f"object; {agreement}."))
        warnings.append(f"{who}: at the pose given {agreement}; check its azimuth and "
                        "elevation.")
    entry.transform = view_transform(pose.azimuth, ref_el, pose.elevation)
    entry.cutout, entry.target = photo.cutout, projected_box(shape.vertices, entry.transform)
    entry.model_input = to_model_input(reframe_cutout(photo.cutout, entry.target))
    return entry


def _left_out(entry: ViewEntry, warnings: list[str], message: str) -> ViewEntry:
    """A searched photo not used: no pose on its entry, the reason in words on it and in the
    job's warnings (its confidence stays, for the record)."""
    entry.used, entry.pose, entry.azimuth, entry.elevation = False, None, None, None
    entry.message = message
    warnings.append(message)
    return entry


def _rounded(value: float | None, places: int = 3) -> float | None:
    return None if value is None else round(float(value), places)
