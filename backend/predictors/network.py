"""The Slice3D-compact network as a Predictor: slices and a cached-feature SDF closure.

Two inference settings travel with the weights (safetensors metadata ``slice3d_inference``, chosen
by ``training.calibrate`` on a validation split, never on the test split):

* ``flip_average``: the SDF is the mean of the network on the image and on its mirror image,
  queried at mirrored points (the camera is symmetric in x): a test-time average that cancels
  part of the network's noise;
* ``surface_offset``: the SDF is lowered by this distance, which grows the surface by it (it can
  rejoin thin parts the network leaves broken, at a cost elsewhere; the shipped weights use 0);
* ``depth_clip``: the surface is cut to the network's own predicted box along the view axis z,
  widened by this fraction of its half-depth (``None``: no cut). Depth is what one image leaves
  open, and the SDF head overshoots it more often than the box head (the box that also places
  the Z slabs), so the cut trims backs grown too deep;
* ``feature_sampling``: how the image maps are interpolated at each point's projection,
  ``bilinear`` as in training or ``bicubic``, which keeps the values at texel centres and drops
  the kinks between them;
* ``silhouette_fill``: the half-thickness of the sheet that the mesher puts on every ray through
  the input's mask that the surface misses (``backend.silhouette_fill``; ``None``: no fill), so
  thin parts the network leaves broken come back at the depth it guessed for them.

Weights without the key run the network as it is.

Weights with a colour head (``colour_head`` in their config, issue 34) give each prediction a
``colour_at``: sRGB at view-frame points, batched like the SDF, read from the photo alone. The
flip average is not applied to the colours: on the photo-like set it changed the texture's
colour error by -0.2% (-0.6..+0.2%) and cost half the head's time
(docs/experiments/texture_colour.md). Several photos: the reference photo's colours.

Several photos (``predict_views``, issue 35): weights with a view fusion (``view_fusion`` in
their config) read every photo at each point; other weights intersect the photos' own SDFs
(``Predictor.predict_views``). Either way, with more than one photo the depth clip is off: it cuts
to the depth the reference photo guessed, and the other photos are there to see that depth (a
side view sees the reference's depth as its width; a clip would cut away what it shows). Not
measured against the clip yet (docs/experiments/multiview.md). The flip average mirrors
every photo and every view transform (``M T M``), the same scene seen in a mirror; the
silhouette fill keeps the reference photo's mask, whose rays must all meet the object.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..geometry import slabs_for_bounds
from ..model import load_weights, read_metadata, sha256_file
from ..model.network import SAMPLINGS, merge_maps
from ..model.view_fusion import ExtraViews
from ..silhouette_fill import SilhouetteFill
from .base import (
    ColourFunction,
    Prediction,
    Predictor,
    SdfFunction,
    check_views,
    intersected_sdf,
)
from .chunks import map_chunks
from .fused_decoder import FusedDecoder, supports

QUERY_CHUNK = 2048  # points per network call on a CPU; 4096 is level within noise (BENCHMARKS)
# On a GPU a 2048-point call is mostly kernel launches: a 256^3 grid took some 800 calls one after
# another (docs/BENCHMARKS.md, "Model inference on a GPU"). There a level of the grid goes in a
# few large calls instead.
DEVICE_QUERY_CHUNK = 65536
INFERENCE_KEY = "slice3d_inference"
MIRROR_X = (-1.0, 1.0, 1.0)
# what Slice3DCompact.query reads of the image features (the flip average stacks these)
QUERY_FEATURES = ("fmap", "ctx", "image", "bbox", "global", "slices", "side", "side_global")


def query_chunk(device: torch.device) -> int:
    """Points per network call on ``device``."""
    return QUERY_CHUNK if device.type == "cpu" else DEVICE_QUERY_CHUNK


@dataclass(frozen=True)
class InferenceSettings:
    flip_average: bool = False
    surface_offset: float = 0.0
    depth_clip: float | None = None
    feature_sampling: str = "bilinear"
    silhouette_fill: float | None = None

    def __post_init__(self) -> None:
        if self.feature_sampling not in SAMPLINGS:
            raise ValueError(f"feature_sampling must be one of {', '.join(SAMPLINGS)}, "
                             f"not {self.feature_sampling!r}")
        if self.silhouette_fill is not None and not self.silhouette_fill > 0:
            raise ValueError(f"silhouette_fill is a sheet's half-thickness above 0 or None, "
                             f"not {self.silhouette_fill!r}")

    @classmethod
    def from_metadata(cls, metadata: dict) -> InferenceSettings:
        raw = json.loads(metadata.get(INFERENCE_KEY, "{}"))
        clip, fill = raw.get("depth_clip"), raw.get("silhouette_fill")
        return cls(flip_average=bool(raw.get("flip_average", False)),
                   surface_offset=float(raw.get("surface_offset", 0.0)),
                   depth_clip=None if clip is None else float(clip),
                   feature_sampling=str(raw.get("feature_sampling", "bilinear")),
                   silhouette_fill=None if fill is None else float(fill))

    def to_metadata(self) -> dict[str, str]:
        return {INFERENCE_KEY: json.dumps(asdict(self))}


class NetworkPredictor(Predictor):
    name = "slice3d-compact"
    is_baseline = False

    def __init__(self, device: torch.device, weights: str | Path, fused: bool = True,
                 plain_search: bool = False) -> None:
        """``fused``: query the SDF, of one photo or several, through ``FusedDecoder`` (the same
        values to about 1e-6, less work per point) where the network allows it; False runs
        ``query`` as is.
        ``plain_search``: with the flip average, predictions carry the plain network as their
        ``search_sdf`` (18% fewer network passes at 128^3); off by default, because it moved
        the mesh beyond the sampling noise on thin shapes (docs/BENCHMARKS.md)."""
        super().__init__(device)
        self.weights = Path(weights)
        self.model = load_weights(self.weights, device=device)
        self.decoder = FusedDecoder(self.model) if fused and supports(self.model) else None
        # with the flip average, the mesher's coarse levels may find the surface on the image
        # alone (Prediction.search_sdf), so that only the finer levels pay for the average
        self.plain_search = plain_search
        self.weights_sha256 = sha256_file(self.weights)
        self.metadata = read_metadata(self.weights)
        self.has_slices = self.model.config.slices
        self.settings = InferenceSettings.from_metadata(self.metadata)
        self.query_chunk = query_chunk(device)

    @torch.no_grad()
    def encode(self, image: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
        x = x.permute(2, 0, 1)[None].to(self.device)
        size = self.model.config.input_size
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True,
                              align_corners=False)
        return self.model.encode(x)

    @property
    def fuses_features(self) -> bool:
        """Whether the weights read several views at each point (else their SDFs intersect)."""
        return self.model.view_fusion is not None

    def predict(self, image: np.ndarray, flip_average: bool | None = None) -> Prediction:
        return self._predict(image, flip_average, self.settings.depth_clip)

    def _predict(self, image: np.ndarray, flip_average: bool | None,
                 depth_clip: float | None) -> Prediction:
        feats = self.encode(image)  # computed ONCE; the closure below reuses it for every chunk
        search, mirrored = None, None
        if self._flip(flip_average):
            mirrored = self.encode(np.ascontiguousarray(image[:, ::-1]))
            averaged = self._flip_averaged_sdf_of(feats, mirrored)
            if self.plain_search:
                search = self._sdf_of(merge_maps(feats))
        else:
            averaged = self._sdf_of(merge_maps(feats))
        return self._finished(image, feats, averaged, depth_clip, search=search)

    def predict_views(
        self, images: list[np.ndarray], transforms: list[np.ndarray],
        flip_average: bool | None = None,
    ) -> Prediction:
        """Several photos of one object: fused features where the weights have a view fusion,
        else the intersection of the photos' SDFs; one photo is ``predict`` exactly."""
        check_views(images, transforms)
        if len(images) == 1:
            return self.predict(images[0], flip_average)
        if not self.fuses_features:
            return self.intersected_views(images, transforms, flip_average)
        feats = self.encode(images[0])
        extra = [self.encode(image) for image in images[1:]]
        mats = torch.from_numpy(np.stack(transforms[1:]).astype(np.float32))
        if self._flip(flip_average):
            mirrored = [self.encode(np.ascontiguousarray(image[:, ::-1])) for image in images]
            flip = torch.diag(torch.tensor((*MIRROR_X, 1.0)))
            sdf = self._fused_features_sdf_of([feats, mirrored[0]], [extra, mirrored[1:]],
                                              torch.stack([mats, flip @ mats @ flip]))
            return self._finished(images[0], feats, sdf, None)
        sdf = self._fused_features_sdf_of([feats], [extra], mats[None])
        return self._finished(images[0], feats, sdf, None)

    def intersected_views(
        self, images: list[np.ndarray], transforms: list[np.ndarray],
        flip_average: bool | None = None,
    ) -> Prediction:
        """The photos' own SDFs (each unclipped in depth) intersected: what weights without a
        view fusion do with several photos, and the comparison for those with one."""
        check_views(images, transforms)
        own = [self._predict(image, flip_average, None) for image in images]
        fused = intersected_sdf([p.sdf for p in own], transforms)
        return self._finished(images[0], self.encode(images[0]), fused, None, offset=False)

    def _flip(self, flip_average: bool | None) -> bool:
        return self.settings.flip_average if flip_average is None else flip_average

    def _finished(self, image: np.ndarray, feats: dict[str, torch.Tensor], sdf: SdfFunction,
                  depth_clip: float | None, offset: bool = True,
                  search: SdfFunction | None = None) -> Prediction:
        """The reference photo's slices, slabs, fill and colours around ``sdf``, cut to the
        predicted depth (``depth_clip``) and lowered by the surface offset (``offset``);
        ``search``: the cheaper SDF for the mesher's coarse levels, cut and lowered alike."""
        bbox = feats["bbox"][0].float().cpu().numpy().astype(np.float64)
        slabs = slabs_for_bounds(bbox[0], bbox[1])
        slices = _slice_rgba(feats.get("slices"), image.shape[0])
        settings = self.settings
        by = settings.surface_offset if offset else 0.0

        def finished(fn: SdfFunction) -> SdfFunction:
            if depth_clip is not None:
                fn = _clipped_in_depth(fn, bbox[:, 2], depth_clip, self.device)
            return fn if by == 0.0 else _lowered(fn, by)

        fill = None
        if settings.silhouette_fill is not None:
            fill = SilhouetteFill(mask=image[..., 3] > 0.5, half_thickness=settings.silhouette_fill)
        colour = None
        if self.model.colour_head is not None:
            colour = self._colour_of(feats)
        return Prediction(slices=slices, slabs=slabs, sdf=finished(sdf), silhouette_fill=fill,
                          colour_at=colour,
                          search_sdf=None if search is None else finished(search))

    def _colour_of(self, feats: dict[str, torch.Tensor]) -> ColourFunction:
        """The colour head's closure over the photo's cached features: NumPy view-frame points
        [N,3] -> sRGB [N,3] in 0..1, through the folded decoder where there is one (the same
        colours, x1.4 faster)."""
        sampling = self.settings.feature_sampling
        maps = merge_maps(feats)
        query = self.model.query_colour if self.decoder is None else self.decoder.query_colour

        @torch.no_grad()
        def colour_at(points: np.ndarray) -> np.ndarray:
            pts = torch.from_numpy(np.asarray(points, np.float32).reshape(-1, 3)).to(self.device)
            out = map_chunks(lambda part: query(maps, part[None], sampling=sampling)[0], pts,
                             self.query_chunk)
            return torch.cat(out).cpu().numpy().astype(np.float64) if out else np.zeros((0, 3))

        return colour_at

    def _query(self, feats: dict[str, torch.Tensor], points: torch.Tensor,
               views: ExtraViews | None = None) -> torch.Tensor:
        """The network's SDF at points [B,N,3] of images whose features are ``feats``, reading
        the extra photos ``views`` too where given; folded (``FusedDecoder``) where it can be."""
        sampling = self.settings.feature_sampling
        if self.decoder is not None:
            return self.decoder.query(feats, points, sampling=sampling, views=views)
        return self.model.query(feats, points, sampling=sampling, views=views)

    def _sdf_of(self, feats: dict[str, torch.Tensor]) -> SdfFunction:
        """The network's SDF closure over cached image features, queried chunk by chunk."""

        @torch.no_grad()
        def sdf(points: torch.Tensor) -> torch.Tensor:
            pts = points.to(self.device, torch.float32)
            out = map_chunks(lambda part: self._query(feats, part[None])[0], pts,
                             self.query_chunk)
            return torch.cat(out) if out else pts.new_zeros(0)

        return sdf

    def _flip_averaged_sdf_of(
        self, feats: dict[str, torch.Tensor], mirrored: dict[str, torch.Tensor]
    ) -> SdfFunction:
        """The mean of the network on the image at the points and on its mirror image at the
        mirrored points, both in ONE query call (the two feature sets stacked as a batch of 2).

        Every op of the point decoder works per point and per batch item, so the values are
        those of two separate calls, bit for bit (tests/backend/predictors). A call takes
        query_chunk / 2 points, so every op sees query_chunk rows as before: ops twice as large
        measured 12% slower per point on one thread of this CPU (its caches), though far less hurt
        by a loaded machine's bursts on two (docs/BENCHMARKS.md)."""
        stacked = stacked_maps([feats, mirrored])
        flip = torch.tensor(MIRROR_X, device=self.device)

        @torch.no_grad()
        def averaged(points: torch.Tensor) -> torch.Tensor:
            pts = points.to(self.device, torch.float32)

            def chunk(part: torch.Tensor) -> torch.Tensor:
                both = self._query(stacked, torch.stack([part, part * flip]))
                return 0.5 * (both[0] + both[1])

            out = map_chunks(chunk, pts, max(self.query_chunk // 2, 1))
            return torch.cat(out) if out else pts.new_zeros(0)

        return averaged

    def _fused_features_sdf_of(
        self, references: list[dict[str, torch.Tensor]],
        extras: list[list[dict[str, torch.Tensor]]], transforms: torch.Tensor,
    ) -> SdfFunction:
        """The network reading every view at each point; with two references (the photos and
        their mirror images, transforms [2,K,4,4]) the mean of the two at mirrored points, both
        in one query call as the flip average does."""
        pairs = len(references)
        stacked = stacked_maps(references)
        views = ExtraViews(
            feats=stacked_maps([f for views in extras for f in views]),
            transforms=transforms.to(self.device),
            present=torch.ones(transforms.shape[:2], dtype=torch.bool, device=self.device))
        flip = torch.tensor(MIRROR_X, device=self.device)

        @torch.no_grad()
        def fused(points: torch.Tensor) -> torch.Tensor:
            pts = points.to(self.device, torch.float32)

            def chunk(part: torch.Tensor) -> torch.Tensor:
                both = torch.stack([part, part * flip][:pairs])
                return self._query(stacked, both, views).mean(0)

            out = map_chunks(chunk, pts, max(self.query_chunk // pairs, 1))
            return torch.cat(out) if out else pts.new_zeros(0)

        return fused


def stacked_maps(feature_sets: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Several images' query features as one batch (image k is batch item k), merged for one
    ``grid_sample`` per call (``merge_maps``)."""
    return merge_maps({key: torch.cat([f[key] for f in feature_sets])
                       for key in QUERY_FEATURES if key in feature_sets[0]})


def _lowered(sdf: SdfFunction, by: float) -> SdfFunction:
    """The SDF lowered by ``by``, which grows its surface by that distance."""

    def shifted(points: torch.Tensor) -> torch.Tensor:
        return sdf(points) - by

    return shifted


def _clipped_in_depth(sdf, z_bounds: np.ndarray, widen: float, device: torch.device):
    """The SDF intersected with the slab |z - centre| <= (1 + widen) * half-depth of the box."""
    centre = float(z_bounds.mean())
    half = float(z_bounds[1] - z_bounds[0]) / 2.0 * (1.0 + widen)

    def clipped(points: torch.Tensor) -> torch.Tensor:
        pts = points.to(device, torch.float32)
        return torch.maximum(sdf(pts), (pts[:, 2] - centre).abs() - half)

    return clipped


def _slice_rgba(slices: torch.Tensor | None, size: int) -> np.ndarray:
    """[1,24,s,s] (grey, alpha per slice) -> uint8 [12,size,size,4] RGBA (grey in RGB)."""
    if slices is None:  # the no-slice ablation predicts none: empty, transparent images
        return np.zeros((12, size, size, 4), np.uint8)
    s = slices[0].float().view(12, 2, slices.shape[-2], slices.shape[-1])
    if s.shape[-1] != size:
        s = F.interpolate(s, size=(size, size), mode="bilinear", align_corners=False)
    clamped = s.clamp(0, 1).cpu().numpy()
    grey, alpha = clamped[:, 0], clamped[:, 1]
    rgba = np.stack([grey, grey, grey, alpha], axis=-1)
    return (rgba * 255.0 + 0.5).astype(np.uint8)
