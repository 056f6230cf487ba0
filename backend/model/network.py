"""Slice3D-compact: one image -> 12 slice images + a pixel-aligned SDF decoder (ARCHITECTURE.md, 7).

Layout (all sizes come from ``ModelConfig``):

* U-Net encoder-decoder on the 128 px RGBA input. The stem is strided, so the decoder's last
  feature map ``fmap`` is at ``size / 2`` (64 px by default); its channels are split into 12 groups,
  one per slice. A grouped 3x3 conv turns each group into that slice's (grey, alpha) image.
  A small head on the bottleneck regresses the object's view-frame bounding box, which fixes
  the 12 slabs (``backend.geometry.slabs_for_bounds``).
* Per query point (view frame): projected into the image ONCE (``backend.geometry`` convention,
  grid_sample NDC, y down), then sampled from ``fmap`` (every slice's channel group), from the
  predicted slice images, from a coarser decoder map and from the input itself.
* Tokens: one per slice (its features, its predicted grey/alpha there, and where the point lies
  relative to that slice's slab) plus an index embedding, and one coordinate token (Fourier
  features of the point + coarse context). A small transformer mixes them; the coordinate token
  (first) is regressed to the SDF.

``mixer = "self"``: a standard pre-norm transformer over all 13 tokens. ``mixer = "cross"``: only
the coordinate token is updated; it attends to the slice tokens (one key/value projection shared by
every layer, folded into the query: ``attend_one_query``), which costs several times less per
point at inference.

``slices = False`` is the ablation: the same network without the slice branch (no slice head, no
slice loss, no slab features); the 12 channel groups are still tokens, but only image features.

Image features are computed once per image (``encode``) and reused for every chunk of query points
(``query``).

``view_fusion = "meanmax"`` lets ``query`` read extra photos of the object too (issue 35): each is
encoded once, and a point's readings in every extra view are fused into the coordinate token
through a gate that starts at zero (``backend.model.view_fusion``). Off by default, so every
existing config and weights file loads unchanged.

``colour_head = "mlp"`` adds a branch that predicts the surface colour at a point
(``query_colour``, ``backend.model.colour_head``) from the decoder's last hidden state; the SDF
never reads it, so ``query`` answers as without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from ..geometry import CAMERA_DISTANCE, SLICES_PER_AXIS, project
from .colour_head import build_colour_head, object_colour
from .efficientnet import VARIANTS as EFFICIENTNET_LITE
from .efficientnet import EfficientNetLite, trunk_widths
from .mobilenet import MobileNetV2Trunk
from .side_encoder import SideEncoder
from .view_fusion import ExtraViews, build_view_fusion, moved_points

N_SLICES = 12
UPSAMPLINGS = ("nearest", "bilinear")


@dataclass
class ModelConfig:
    slices: bool = True  # False: the no-slice ablation
    input_size: int = 128
    channels: tuple[int, ...] = (32, 48, 64, 96)  # encoder widths at size/2, /4, /8, /16
    group: int = 8  # decoder channels per slice group (fmap has 12 * group channels)
    d_model: int = 64
    heads: int = 4
    layers: int = 3
    ff: int = 128
    fourier: int = 6  # frequencies per coordinate
    mixer: str = "cross"  # "cross" or "self"
    global_code: bool = False  # the coordinate token also sees the pooled bottleneck (whole image)
    # "unet" (trained from scratch), or an ImageNet-initialisable trunk: "mobilenetv2",
    # "efficientnet_lite0", "efficientnet_lite2"
    encoder: str = "unet"
    upsample: str = "nearest"  # decoder upsampling; "bilinear" leaves no 2-texel blocks in the maps
    # "meanmax" or "attention": extra views' features join the coordinate token (view_fusion.py)
    view_fusion: str = "none"
    view_width: int = 64  # width of the per-view MLP of the view fusion
    colour_head: str = "none"  # "mlp": surface colour per point (query_colour)
    colour_width: int = 64  # hidden width of the colour head's MLP
    # "efficientnet_lite0" / "_lite2": frozen ImageNet features beside the encoder, added to the
    # coordinate token (side_encoder.py); side_width channels of them at each point
    side_encoder: str = "none"
    side_width: int = 32
    extra: dict = field(default_factory=dict)

    def encoder_widths(self) -> tuple[int, ...]:
        """Channels of the encoder maps at 1/2, 1/4, 1/8, 1/16 (the decoder's skips)."""
        if self.encoder == "mobilenetv2":
            return MobileNetV2Trunk.widths
        if self.encoder in EFFICIENTNET_LITE:
            return trunk_widths(self.encoder)
        return self.channels

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        d = dict(d)
        if "channels" in d:
            d["channels"] = tuple(d["channels"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
        nn.GroupNorm(min(8, cout // 4) if cout >= 8 else 1, cout),
        nn.SiLU(inplace=True),
    )


class _Block(nn.Sequential):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__(_conv(cin, cout, stride), _conv(cout, cout))


def project_points(points: torch.Tensor) -> torch.Tensor:
    """View-frame points [..., 3] -> grid_sample NDC [..., 2] (x right, y down)."""
    z = points[..., 2].clamp_max(CAMERA_DISTANCE - 1e-3)  # never at or behind the camera
    u, v, _ = project(points[..., 0], points[..., 1], z)
    return torch.stack([u, v], dim=-1)


SAMPLINGS = ("bilinear", "bicubic")


def sample_maps(fmap: torch.Tensor, ndc: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Features of fmap [B,C,H,W] at ndc [B,N,2] -> [B,N,C], interpolated by ``mode``.

    Training samples bilinearly. Bicubic takes the same values at texel centres but has no kink
    between them, an inference setting that ``training.calibrate`` may choose.
    """
    if fmap.dtype != ndc.dtype:  # sample in the points' precision (bf16 grid_sample is unsafe)
        fmap = fmap.to(ndc.dtype)
    out = F.grid_sample(
        fmap, ndc.unsqueeze(2), mode=mode, padding_mode="border", align_corners=False,
    )
    return out.squeeze(-1).transpose(1, 2)


# how the decoder reads a map [B,C,H,W] at NDC points [B,N,2] with a sampling mode: sample_maps,
# or an equal reader that is faster somewhere (backend.predictors.map_sampling)
MapReader = Callable[[torch.Tensor, torch.Tensor, str], torch.Tensor]


def merge_maps(feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The features with ``merged``: fmap, slices and image concatenated, which ``query`` then
    samples in one call instead of three (the interpolation weights are computed once per point,
    not per map; the values are the same). Inference only: features without slices, or whose maps
    differ in size, come back as they are."""
    keys = ("fmap", "slices", "image")
    if not all(key in feats for key in keys) or len({feats[k].shape[-2:] for k in keys}) != 1:
        return feats
    dtype = feats["fmap"].dtype
    return {**feats, "merged": torch.cat([feats[key].to(dtype) for key in keys], dim=1)}


def _sample_image_maps(
    feats: dict[str, torch.Tensor], ndc: torch.Tensor, sampling: str,
    sample: MapReader = sample_maps,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """fmap, slices (None without) and image sampled at ndc, [B,N,C] each: from ``merged`` in
    one call where ``merge_maps`` made it, else map by map."""
    if "merged" not in feats:
        slices = feats.get("slices")
        return (sample(feats["fmap"], ndc, sampling),
                None if slices is None else sample(slices, ndc, sampling),
                sample(feats["image"], ndc, sampling))
    sizes = [feats[key].shape[1] for key in ("fmap", "slices", "image")]
    fm, sv, img = sample(feats["merged"], ndc, sampling).split(sizes, dim=-1)
    return fm, sv, img


def slab_coords(points: torch.Tensor, bbox: torch.Tensor) -> torch.Tensor:
    """Where each point lies relative to each of the 12 slabs: [B,N,12], -1..1 inside the slab.

    Same slab order and bounds as ``backend.geometry.slabs_for_bounds`` (X left to right,
    Y top to bottom, Z near to far).
    """
    bmin, bmax = bbox[:, 0], bbox[:, 1]  # [B,3]
    w = ((bmax - bmin) / SLICES_PER_AXIS).clamp_min(1e-4)  # [B,3]
    k = torch.arange(SLICES_PER_AXIS, device=points.device, dtype=points.dtype)
    out = []
    for axis in range(3):
        p = points[..., axis : axis + 1]  # [B,N,1]
        if axis == 0:
            lo = bmin[:, 0:1, None] + k * w[:, 0:1, None]  # [B,1,4]
        else:
            lo = bmax[:, axis : axis + 1, None] - (k + 1) * w[:, axis : axis + 1, None]
        lo = lo.squeeze(1).unsqueeze(1)  # [B,1,4]
        t = (p - lo) / w[:, axis, None, None] * 2.0 - 1.0
        out.append(t)
    return torch.cat(out, dim=-1).clamp(-4.0, 4.0)


def fourier_features(points: torch.Tensor, n: int) -> torch.Tensor:
    freqs = (2.0 ** torch.arange(n, device=points.device, dtype=points.dtype)) * math.pi
    ang = points.unsqueeze(-1) * freqs  # [..., 3, n]
    ang = ang.flatten(-2)
    return torch.cat([points, torch.sin(ang), torch.cos(ang)], dim=-1)


def attend_one_query(
    q: torch.Tensor, tokens: torch.Tensor, kv: nn.Linear, heads: int
) -> torch.Tensor:
    """Multi-head attention of one query per point over its tokens, keys and values never built.

    q [M,h,dh] (one query token per point), tokens [M,T,d], ``kv`` the shared key/value projection
    (output laid out as (key, value) x heads x dh). Equal to scaled dot-product attention over
    ``kv(tokens)``, but cheaper: q.(W_k s + b_k) = (W_k^T q).s + q.b_k, whose last term is the same
    for every token and cancels in the softmax; the weights sum to 1, so W_v moves after the
    weighted sum of tokens. The [M,T,2d] key/value tensor (and its copy into attention layout) was
    most of the point decoder's time on the CPU. Returns [M,h,dh].
    """
    d = tokens.shape[-1]
    dh = d // heads
    w_k, w_v = kv.weight.view(2, heads, dh, d).unbind(0)  # [h,dh,d] each
    b_v = kv.bias.view(2, heads, dh)[1]
    q_tok = torch.einsum("mhe,hed->mhd", q, w_k) / math.sqrt(dh)  # the query in token space
    weights = torch.bmm(q_tok, tokens.transpose(1, 2)).softmax(-1)  # [M,h,T]
    mixed = torch.bmm(weights, tokens)  # [M,h,d]
    return torch.einsum("mhd,hed->mhe", mixed, w_v) + b_v


class _CrossLayer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm_q = nn.LayerNorm(d)
        self.q = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.norm_f = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, ff), nn.GELU(), nn.Linear(ff, d))

    def forward(self, x: torch.Tensor, tokens: torch.Tensor, kv: nn.Linear) -> torch.Tensor:
        # x [M,1,d]; tokens [M,T,d]
        m, _, d = x.shape
        q = self.q(self.norm_q(x)).view(m, self.heads, d // self.heads)
        a = attend_one_query(q, tokens, kv, self.heads)  # [M,h,dh]
        x = x + self.o(a.reshape(m, 1, d))
        return x + self.ff(self.norm_f(x))


class Slice3DCompact(nn.Module):
    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ModelConfig()
        c0, c1, c2, c3 = cfg.channels
        fch = N_SLICES * cfg.group
        self.trunk: nn.Module | None
        if cfg.encoder == "unet":
            self.enc0 = _Block(4, c0, stride=2)  # size/2
            self.enc1 = _Block(c0, c1, stride=2)  # size/4
            self.enc2 = _Block(c1, c2, stride=2)  # size/8
            self.enc3 = _Block(c2, c3, stride=2)  # size/16
            self.trunk = None
        elif cfg.encoder == "mobilenetv2":
            self.trunk = MobileNetV2Trunk()
        elif cfg.encoder in EFFICIENTNET_LITE:
            self.trunk = EfficientNetLite(cfg.encoder)
        else:
            raise ValueError(f"unknown encoder {cfg.encoder!r}")
        if cfg.upsample not in UPSAMPLINGS:
            raise ValueError(f"unknown upsampling {cfg.upsample!r}; use one of {UPSAMPLINGS}")
        e0, e1, e2, e3 = cfg.encoder_widths()
        self.dec2 = _Block(e3 + e2, c2)
        self.dec1 = _Block(c2 + e1, c1)
        self.dec0 = nn.Sequential(_conv(c1 + e0, fch), nn.Conv2d(fch, fch, 3, 1, 1))
        self.bbox_head = nn.Sequential(nn.Linear(e3, 64), nn.SiLU(), nn.Linear(64, 6))
        self.slice_head: nn.Module | None
        if cfg.slices:
            self.slice_head = nn.Sequential(
                nn.SiLU(), nn.Conv2d(fch, 2 * N_SLICES, 3, 1, 1, groups=N_SLICES)
            )
            tok_in = cfg.group + 2 + 1
        else:
            self.slice_head = None
            tok_in = cfg.group
        d = cfg.d_model
        self.slice_tok = nn.Sequential(nn.Linear(tok_in, d), nn.GELU(), nn.Linear(d, d))
        self.slice_emb = nn.Parameter(torch.randn(N_SLICES, d) * 0.02)
        self.side: SideEncoder | None = None
        if cfg.side_encoder != "none":
            self.side = SideEncoder(cfg.side_encoder, cfg.side_width, cfg.d_model)
        coord_in = 3 + 6 * cfg.fourier + c1 + 4 + 3 + (e3 if cfg.global_code else 0)
        self.coord_tok = nn.Sequential(nn.Linear(coord_in, d), nn.GELU(), nn.Linear(d, d))
        if cfg.mixer == "self":
            layer = nn.TransformerEncoderLayer(
                d, cfg.heads, cfg.ff, dropout=0.0, activation="gelu", batch_first=True,
                norm_first=True,
            )
            self.mixer: nn.Module = nn.TransformerEncoder(layer, cfg.layers,
                                                          enable_nested_tensor=False)
        elif cfg.mixer == "cross":
            self.kv = nn.Linear(d, 2 * d)
            self.mixer = nn.ModuleList(
                [_CrossLayer(d, cfg.heads, cfg.ff) for _ in range(cfg.layers)]
            )
        elif cfg.mixer == "mlp":  # no attention: all tokens concatenated into an MLP
            self.mixer = nn.Sequential(
                nn.Linear(d * (N_SLICES + 1), cfg.ff * 2), nn.GELU(),
                *[m for _ in range(cfg.layers - 1) for m in (nn.Linear(cfg.ff * 2, cfg.ff * 2),
                                                              nn.GELU())],
                nn.Linear(cfg.ff * 2, d),
            )
        else:
            raise ValueError(f"unknown mixer {cfg.mixer!r}")
        self.out_norm = nn.LayerNorm(d)
        self.sdf_head = nn.Linear(d, 1)
        reading = fch + c1 + 4 + 3 + (3 * N_SLICES if cfg.slices else 0)  # view_reading's width
        self.view_fusion = build_view_fusion(cfg.view_fusion, reading, cfg.view_width, d)
        self.colour_head = build_colour_head(cfg.colour_head, d, cfg.colour_width)

    # ----------------------------------------------------------------------------- image part
    def encode(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """image [B,4,S,S] in [0,1] (RGB composited on white, alpha) -> cached features."""
        if self.trunk is None:
            e0 = self.enc0(image * 2.0 - 1.0)
            e1 = self.enc1(e0)
            e2 = self.enc2(e1)
            e3 = self.enc3(e2)
        else:
            e0, e1, e2, e3 = self.trunk(image)
        d2 = self.dec2(torch.cat([self._up(e3), e2], 1))
        d1 = self.dec1(torch.cat([self._up(d2), e1], 1))
        fmap = self.dec0(torch.cat([self._up(d1), e0], 1))
        pooled = e3.float().mean(dim=(2, 3))
        raw = self.bbox_head(pooled)
        centre = raw[:, :3] * 0.1
        half = F.softplus(raw[:, 3:] + 1.0) * 0.25
        bbox = torch.stack([centre - half, centre + half], dim=1)  # [B,2,3]
        feats = {
            "fmap": fmap,
            "ctx": d1,
            "image": F.avg_pool2d(image, 2),
            "bbox": bbox,
            "global": pooled,
        }
        if self.slice_head is not None:
            feats["slices"] = torch.sigmoid(self.slice_head(fmap).float())  # [B,24,S/2,S/2]
        if self.side is not None:
            feats["side"], feats["side_global"] = self.side(image)
        return feats

    def _up(self, x: torch.Tensor) -> torch.Tensor:
        if self.config.upsample == "nearest":
            return F.interpolate(x, scale_factor=2.0, mode="nearest")
        return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)

    # ----------------------------------------------------------------------------- point part
    def query(
        self, feats: dict[str, torch.Tensor], points: torch.Tensor,
        bbox: torch.Tensor | None = None, sampling: str = "bilinear",
        views: ExtraViews | None = None,
    ) -> torch.Tensor:
        """SDF at view-frame points [B,N,3] -> [B,N]. ``bbox`` overrides the predicted one;
        ``sampling`` is how the image maps are interpolated at each point's projection.

        ``views``: extra photos of the same objects (``ExtraViews``), read by the view fusion."""
        b, n, _ = points.shape
        hidden, _, _ = self.decode_points(feats, points, bbox, sampling, views)
        return self.sdf_head(hidden).view(b, n).float()

    def query_colour(
        self, feats: dict[str, torch.Tensor], points: torch.Tensor,
        bbox: torch.Tensor | None = None, sampling: str = "bilinear",
        views: ExtraViews | None = None,
    ) -> torch.Tensor:
        """sRGB surface colour in 0..1 at view-frame points [B,N,3] -> [B,N,3], from the colour
        head (``backend.model.colour_head``); the same point decoder as ``query``."""
        if self.colour_head is None:
            raise ValueError("this network has no colour head (colour_head is 'none')")
        hidden, img, rel = self.decode_points(feats, points, bbox, sampling, views)
        return self.colour_from(hidden, img, rel, object_colour(feats["image"].float()))

    def colour_from(self, hidden: torch.Tensor, img: torch.Tensor, rel: torch.Tensor,
                    tint: torch.Tensor) -> torch.Tensor:
        """The colour head on what ``decode_points`` returned (hidden [M,1,d], img [B,N,4], rel
        [B,N,3]) and the objects' mean colours tint [B,3] -> [B,N,3]."""
        head = cast(nn.Module, self.colour_head)
        b, n, _ = rel.shape
        parts = [hidden.reshape(b, n, -1), img.to(hidden.dtype), tint.to(hidden.dtype)[:, None]
                 .expand(b, n, 3), rel.to(hidden.dtype)]
        return head(torch.cat(parts, dim=-1)).float()

    def decode_points(
        self, feats: dict[str, torch.Tensor], points: torch.Tensor, bbox: torch.Tensor | None,
        sampling: str, views: ExtraViews | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The point decoder: its last hidden state [B*N,1,d] (normalised, what the SDF head
        reads), the input's RGBA at each point's projection [B,N,4] and the point relative to
        the box [B,N,3]."""
        cfg = self.config
        tok_in, cin, img, rel = self.point_inputs(feats, points, bbox, sampling)
        slice_tokens = self.slice_tok(tok_in.to(self.slice_emb.dtype)) + self.slice_emb  # [M,12,d]
        coord = self.coordinate_token(cin.to(self.slice_emb.dtype))  # [M,1,d]
        if views is not None:
            coord = coord + self.fused_views(views, points, sampling, coord).to(coord.dtype)
        if cfg.mixer == "self":
            x = self.mixer(torch.cat([coord, slice_tokens], dim=1))[:, :1]
        elif cfg.mixer == "mlp":
            x = self.mixer(torch.cat([coord, slice_tokens], dim=1).flatten(1))[:, None]
        else:
            x = coord
            for layer in cast(nn.ModuleList, self.mixer):
                x = layer(x, slice_tokens, self.kv)
        return self.out_norm(x), img, rel

    def coordinate_token(self, cin: torch.Tensor) -> torch.Tensor:
        """The coordinate token [..., d] of its inputs [..., c] (``point_inputs``' ``cin``): the
        coordinate MLP on its own columns, plus the side encoder's term on the columns after."""
        if self.side is None:
            return self.coord_tok(cin)
        own = cast(nn.Linear, self.coord_tok[0]).in_features
        return self.coord_tok(cin[..., :own]) + self.side.to_coord(cin[..., own:])

    def point_inputs(
        self, feats: dict[str, torch.Tensor], points: torch.Tensor, bbox: torch.Tensor | None,
        sampling: str, sample: MapReader = sample_maps,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the point decoder reads at view-frame points [B,N,3]: the slice tokens' inputs
        [B*N,12,k], the coordinate token's input [B*N,1,c], the input's RGBA at each point's
        projection [B,N,4] and the point relative to the box [B,N,3]. One definition for
        ``decode_points`` and the folded decoder (``backend.predictors.fused_decoder``), which
        may read the maps with its own ``sample``."""
        cfg = self.config
        b, n, _ = points.shape
        ndc = project_points(points)
        fm_flat, sv_flat, img = _sample_image_maps(feats, ndc, sampling, sample)
        fm = fm_flat.view(b, n, N_SLICES, cfg.group)
        ctx = sample(feats["ctx"], ndc, sampling)
        bb = (feats["bbox"] if bbox is None else bbox).detach().to(points.dtype)
        centre = bb.mean(dim=1, keepdim=True)
        extent = (bb[:, 1:] - bb[:, :1]).clamp_min(1e-3)
        rel = (points - centre) / extent
        parts = [fm.to(points.dtype)]
        if self.slice_head is not None:
            sv = cast(torch.Tensor, sv_flat).view(b, n, N_SLICES, 2)
            parts += [sv.to(points.dtype), slab_coords(points, bb).unsqueeze(-1)]
        tok_in = torch.cat(parts, dim=-1).reshape(b * n, N_SLICES, -1)
        coord_parts = [fourier_features(points, cfg.fourier), ctx.to(points.dtype),
                       img.to(points.dtype), rel]
        if cfg.global_code:
            coord_parts.append(feats["global"].to(points.dtype)[:, None].expand(b, n, -1))
        if self.side is not None:
            coord_parts += [sample(feats["side"], ndc, sampling).to(points.dtype),
                            feats["side_global"].to(points.dtype)[:, None].expand(b, n, -1)]
        cin = torch.cat(coord_parts, dim=-1).reshape(b * n, 1, -1)
        return tok_in, cin, img, rel

    def view_reading(self, feats: dict[str, torch.Tensor], points: torch.Tensor,
                     sampling: str = "bilinear") -> torch.Tensor:
        """What one view's maps say at its own view-frame points [B,N,3] -> [B,N,R]: decoder
        map, context, input RGBA, the point relative to the view's predicted box and, with
        slices, the slice values and where the point lies in that view's slabs."""
        ndc = project_points(points)
        fm, sv, img = _sample_image_maps(feats, ndc, sampling)
        ctx = sample_maps(feats["ctx"], ndc, sampling)
        bb = feats["bbox"].detach().to(points.dtype)
        rel = (points - bb.mean(dim=1, keepdim=True)) / (bb[:, 1:] - bb[:, :1]).clamp_min(1e-3)
        parts = [fm, ctx, img, rel]
        if self.slice_head is not None:
            parts += [cast(torch.Tensor, sv), slab_coords(points, bb)]
        return torch.cat([part.to(points.dtype) for part in parts], dim=-1)

    def fused_views(self, views: ExtraViews, points: torch.Tensor, sampling: str = "bilinear",
                    coord: torch.Tensor | None = None) -> torch.Tensor:
        """The extra views' contribution to the coordinate token ``coord`` [B*N,1,d] of points
        [B,N,3]: [B*N,1,d] (an attention fusion asks with ``coord``)."""
        if self.view_fusion is None:
            raise ValueError("this network has no view fusion (view_fusion is 'none'); "
                             "fuse its per-view SDFs instead (Predictor.predict_views)")
        b, n, _ = points.shape
        k = views.transforms.shape[1]
        moved = moved_points(points, views.transforms).reshape(b * k, n, 3)
        reading = self.view_reading(views.feats, moved, sampling)
        reading = reading.view(b, k, n, -1).transpose(1, 2).reshape(b * n, k, -1)
        present = views.present.bool()[:, None, :].expand(b, n, k).reshape(b * n, k)
        return self.view_fusion(reading.to(self.slice_emb.dtype), present, coord)

    def forward(self, image: torch.Tensor, points: torch.Tensor):
        feats = self.encode(image)
        return self.query(feats, points), feats


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
