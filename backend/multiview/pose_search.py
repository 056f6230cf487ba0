"""Finding an extra photo's pose: where must its camera stand for the shape predicted from the
reference photo to look like it?

Each candidate pose (azimuth relative to photo 0, the photo's elevation, and photo 0's own
elevation, shared by all photos) renders the coarse shape's silhouette (``silhouettes``). The
photo's silhouette is laid over it box to box, as the re-framing will lay it (``reframe``), and
the two are compared by IoU. Colours break the near-ties of symmetric shapes: surface points that
photo 0 shows, and that the candidate camera would also see, should have the same colour in both
photos. The search is a coarse grid, then two local refinements around the best.
Confidence is the best pose's IoU.

Both ways, when each extra photo's own coarse shape is given (``photo_shapes``): the same
comparison is also made from the other side, photo k's shape seen from photo 0's camera under
the inverse pose against photo 0, and the two scores add. Each shape guesses its hidden depth on
its own, so the two guesses' errors partly cancel.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import Cancelled
from .poses import view_transform
from .reframe import FLAT_RATIO, mask_box
from .shape import CoarseShape
from .silhouettes import SEARCH_SIZE, Rendered, render, rotations, to_ndc

AZIMUTH_STEP = 15.0
ELEVATIONS = (0.0, 15.0, 30.0)  # the training renders' range, -10..40, in coarse steps
ELEVATION_LIMITS = (-30.0, 70.0)
# (azimuth, elevation) offsets of the two refinements around the best pose so far
REFINEMENTS = ((5.0, 7.5), (2.5, 3.75))
COLOUR_WEIGHT = 0.25  # score = IoU - COLOUR_WEIGHT * mean colour difference (0..1)
DEPTH_TOLERANCE = 0.03  # a point within this of the z-buffer counts as seen (view-frame units)
MIN_COLOUR_POINTS = 20  # fewer co-visible points: the colour term says nothing (neutral value)
NEUTRAL_COLOUR_ERROR = 0.25


@dataclass(frozen=True)
class PhotoTarget:
    """What the search compares against: one photo, framed any way (model-input look)."""

    rgb: torch.Tensor  # float [3, H, W] in 0..1
    alpha: torch.Tensor  # float [1, H, W] in 0..1
    box: tuple[float, float, float, float]  # the mask's box in NDC: left, top, right, bottom
    image: np.ndarray = field(repr=False, compare=False)  # the [S, S, 4] it was made from

    def model_input(self) -> np.ndarray:
        """The float32 [S, S, 4] image it was made from (the both-ways search's colours)."""
        return self.image

    @classmethod
    def from_model_input(cls, image: np.ndarray) -> PhotoTarget:
        """From a float32 [S, S, 4] framed image (``framing.to_model_input``)."""
        box = mask_box(image[..., 3])
        t = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float()
        return cls(t[:3], t[3:], (float(box.left), float(box.top), float(box.right),
                                  float(box.bottom)), image)


@dataclass(frozen=True)
class FoundPose:
    azimuth: float
    elevation: float
    confidence: float  # the IoU of the silhouettes at this pose, 0..1
    score: float  # what was maximised: the IoU less the colour term


@dataclass(frozen=True)
class SearchResult:
    reference_elevation: float
    poses: list[FoundPose]
    candidates: int  # poses scored in all, for the record


@dataclass(frozen=True)
class ReferenceColours:
    """Surface samples photo 0 shows, with photo 0's colour at each."""

    points: torch.Tensor  # [M, 3]
    colours: torch.Tensor  # [M, 3]


def reference_colours(shape: CoarseShape, reference: np.ndarray) -> ReferenceColours:
    points = torch.as_tensor(shape.points, dtype=torch.float32)
    vertices = torch.as_tensor(shape.vertices, dtype=torch.float32)
    seen = render(points, vertices, rotations([np.eye(4)]))
    visible = _visible(points, torch.eye(3)[None], seen)[0]
    image = torch.from_numpy(np.ascontiguousarray(reference[..., :3])).permute(2, 0, 1).float()
    ndc, _ = to_ndc(points[visible], torch.eye(3)[None])
    colours = F.grid_sample(image[None], ndc[:, None], align_corners=False)[0, :, 0].T
    return ReferenceColours(points[visible], colours)


def search_poses(
    shape: CoarseShape, reference: np.ndarray, photos: Sequence[PhotoTarget],
    azimuths: Sequence[float] | None = None, elevations: Sequence[float] | None = None,
    cancel: Callable[[], bool] | None = None, colour_weight: float = COLOUR_WEIGHT,
    photo_shapes: Sequence[CoarseShape] | None = None,
) -> SearchResult:
    """The best pose of each extra photo (``photos[i]`` is photo i + 1).

    ``azimuths``/``elevations``, when given, hold one value per photo including photo 0 and are
    kept as they are; what is not given is searched. ``reference`` is photo 0's model input.
    ``photo_shapes[i]``, when given, is photos[i]'s own coarse shape in its own view frame: the
    poses are then scored both ways (the module's docstring).
    """
    search = _Search(shape, reference_colours(shape, reference), list(photos), cancel,
                     colour_weight)
    if photo_shapes is not None:
        if len(photo_shapes) != len(photos):
            raise ValueError("one coarse shape per extra photo")
        target = PhotoTarget.from_model_input(reference)
        search.back = [
            (_Search(s, reference_colours(s, photo.model_input()), [target], None, colour_weight),
             target) for s, photo in zip(photo_shapes, photos, strict=True)]
    fixed_az = None if azimuths is None else [float(a) for a in azimuths[1:]]
    fixed_el = None if elevations is None else [float(e) for e in elevations[1:]]
    ref_el = None if elevations is None else float(elevations[0])

    def grid(centre: list[tuple[float, float]] | None, steps: tuple[float, float] | None
             ) -> list[tuple[list[float], list[float]]]:
        out = []
        for i in range(len(photos)):
            if centre is None or steps is None:
                az_list = list(np.arange(0.0, 360.0, AZIMUTH_STEP))
                el_list = list(ELEVATIONS)
            else:
                az_list = [centre[i][0] + d * steps[0] for d in (-2, -1, 0, 1, 2)]
                el_list = _elevations(centre[i][1], steps[1])
            out.append(([fixed_az[i]] if fixed_az is not None else az_list,
                        [fixed_el[i]] if fixed_el is not None else el_list))
        return out

    ref_list = [ref_el] if ref_el is not None else list(ELEVATIONS)
    best_ref, best = search.best_over(ref_list, grid(None, None))
    if fixed_az is not None and ref_el is not None:  # every pose given: only scored
        return SearchResult(best_ref, best, search.scored)
    for steps in REFINEMENTS:
        ref_list = [best_ref] if ref_el is not None else _elevations(best_ref, steps[1])
        best_ref, best = search.best_over(
            ref_list, grid([(p.azimuth, p.elevation) for p in best], steps))
    return SearchResult(best_ref, best, search.scored)


def _elevations(centre: float, step: float) -> list[float]:
    lo, hi = ELEVATION_LIMITS
    return sorted({min(max(centre + d * step, lo), hi) for d in (-1, 0, 1)})


class _Search:
    def __init__(self, shape: CoarseShape, colours: ReferenceColours, photos: list[PhotoTarget],
                 cancel: Callable[[], bool] | None, colour_weight: float = COLOUR_WEIGHT) -> None:
        self.points = torch.as_tensor(shape.points, dtype=torch.float32)
        self.vertices = torch.as_tensor(shape.vertices, dtype=torch.float32)
        self.colours = colours
        self.photos = photos
        self.cancel = cancel
        self.colour_weight = colour_weight
        self.scored = 0
        # per photo: its own shape's search and photo 0 as its target (both-ways scoring)
        self.back: list[tuple[_Search, PhotoTarget]] | None = None

    def best_over(self, ref_elevations: list[float],
                  grids: list[tuple[list[float], list[float]]]) -> tuple[float, list[FoundPose]]:
        """The reference elevation whose photos' best poses score highest in sum, and those."""
        best: tuple[float, float, list[FoundPose]] | None = None
        for ref_el in ref_elevations:
            found = [self.best_pose(i, ref_el, *grid) for i, grid in enumerate(grids)]
            total = sum(p.score for p in found)
            if best is None or total > best[0]:
                best = (total, ref_el, found)
        assert best is not None
        return best[1], best[2]

    def best_pose(self, index: int, ref_el: float, az_list: list[float],
                  el_list: list[float]) -> FoundPose:
        if self.cancel and self.cancel():
            raise Cancelled()
        poses = list(itertools.product(az_list, el_list))
        rots = rotations([view_transform(a, ref_el, e) for a, e in poses])
        iou, score = self.score(self.photos[index], rots)
        if self.back is not None:  # photo k's shape seen from photo 0's camera
            back, reference = self.back[index]
            score = score + back.score(reference, rots.transpose(1, 2).contiguous())[1]
        self.scored += len(poses)
        k = int(torch.argmax(score))
        return FoundPose(float(poses[k][0] % 360.0), float(poses[k][1]),
                         float(iou[k].clamp(0, 1)), float(score[k]))

    def score(self, photo: PhotoTarget, rots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seen = render(self.points, self.vertices, rots)
        to_photo = _photo_mapping(seen.boxes, photo.box)
        grid = _pixel_centres(SEARCH_SIZE)
        # every candidate's pixel centres in the photo's NDC: [P, S, S, 2]
        where = to_photo(grid[None].expand(len(rots), -1, -1, -1))
        alpha = F.grid_sample(photo.alpha[None].expand(len(rots), -1, -1, -1), where,
                              align_corners=False)[:, 0]
        inter = torch.minimum(alpha, seen.masks).sum((1, 2))
        union = torch.maximum(alpha, seen.masks).sum((1, 2)).clamp_min(1e-6)
        iou = inter / union
        if not self.colour_weight:
            return iou, iou
        return iou, iou - self.colour_weight * self.colour_error(photo, rots, seen, to_photo)

    def colour_error(self, photo: PhotoTarget, rots: torch.Tensor, seen: Rendered,
                     to_photo: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """Mean colour difference over the points both photos show, per candidate."""
        pts, ref = self.colours.points, self.colours.colours
        if len(pts) == 0:
            return torch.full((len(rots),), NEUTRAL_COLOUR_ERROR)
        visible = _visible(pts, rots, seen)
        ndc, _ = to_ndc(pts, rots)
        where = to_photo(ndc[:, :, None])  # [P, M, 1, 2]
        count = len(rots)
        rgb = F.grid_sample(photo.rgb[None].expand(count, -1, -1, -1), where,
                            align_corners=False)[..., 0]  # [P, 3, M]
        alpha = F.grid_sample(photo.alpha[None].expand(count, -1, -1, -1), where,
                              align_corners=False)[:, 0, :, 0]
        valid = (visible & (alpha > 0.5)).float()
        diff = (rgb.transpose(1, 2) - ref[None]).abs().mean(-1)
        n = valid.sum(1)
        err = (diff * valid).sum(1) / n.clamp_min(1)
        return torch.where(n >= MIN_COLOUR_POINTS, err, torch.full_like(err, NEUTRAL_COLOUR_ERROR))


def _visible(points: torch.Tensor, rots: torch.Tensor, seen: Rendered) -> torch.Tensor:
    """Which points each candidate camera sees (not hidden behind the z-buffer): bool [P, N].

    The z-buffer is taken as the nearest depth over each pixel's 5x5 neighbourhood: the samples
    leave pixels where only a hidden surface's sample fell, which would otherwise count as seen.
    """
    ndc, depth = to_ndc(points, rots)
    size = int(round(seen.depth.shape[1] ** 0.5))
    count = seen.depth.shape[0]
    zbuf = -F.max_pool2d(-seen.depth.view(count, 1, size, size), 5, 1, 2).view(count, -1)
    col = torch.floor((ndc[..., 0] + 1) / 2 * size).long().clamp(0, size - 1)
    row = torch.floor((ndc[..., 1] + 1) / 2 * size).long().clamp(0, size - 1)
    nearest = torch.gather(zbuf, 1, row * size + col)
    return depth <= nearest + DEPTH_TOLERANCE


def _pixel_centres(size: int) -> torch.Tensor:
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size * 2 - 1
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([xx, yy], -1)


def _photo_mapping(boxes: torch.Tensor, photo_box: tuple[float, float, float, float]
                   ) -> Callable[[torch.Tensor], torch.Tensor]:
    """NDC of each candidate's image -> NDC of the photo, laying the photo's mask box onto the
    candidate's projected box as the re-framing does (scale by height, offset by centre)."""
    left, top, right, bottom = photo_box
    ph_h, ph_w = bottom - top, right - left
    ph_c = torch.tensor([(left + right) / 2, (top + bottom) / 2])
    c_h = boxes[:, 3] - boxes[:, 1]
    c_w = boxes[:, 2] - boxes[:, 0]
    scale = torch.where(c_h >= FLAT_RATIO * c_w, c_h / max(ph_h, 1e-6), c_w / max(ph_w, 1e-6))
    c_c = (boxes[:, :2] + boxes[:, 2:]) / 2

    def mapping(ndc: torch.Tensor) -> torch.Tensor:
        shape = (-1,) + (1,) * (ndc.dim() - 2)
        return ph_c + (ndc - c_c.view(*shape, 2)) / scale.view(*shape, 1)

    return mapping
