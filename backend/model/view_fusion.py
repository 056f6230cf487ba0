"""Feature fusion over extra views: what other photos of the object say about a query point.

A query point p of the reference view frame is moved into each extra view k's frame
(``p_k = transforms[k] p``), projected there and read from view k's cached maps exactly as the
reference view's features are read (``Slice3DCompact.view_reading``). A small MLP turns each
view's reading into a vector, and the vectors of the views that are there are pooled:

- ``meanmax``: their mean and max over the views;
- ``attention``: a weighted sum, the weights asked by the point's own coordinate token (what the
  reference photo says there) of each view's vector, per head. A view where the point is hidden
  or off the outline reads differently from one that sees it, and the weights can learn to
  trust the one that sees it, which a mean cannot.

The pooled vector goes through one more layer and is ADDED to the coordinate token through a
per-channel gate that starts at zero. So a network whose fusion weights are new answers exactly
as the single-view one, and a point with no extra view gets nothing added.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

FUSIONS = ("none", "meanmax", "attention")
ATTENTION_HEADS = 4


@dataclass
class ExtraViews:
    """Extra photos of the B objects of a batch, K per object (padded where fewer).

    feats: ``Slice3DCompact.encode`` of the [B*K] extra images, object b's views consecutive.
    transforms: [B,K,4,4] reference view frame -> view k's frame.
    present: [B,K] bool, which of the K views are real.
    """

    feats: dict[str, torch.Tensor]
    transforms: torch.Tensor
    present: torch.Tensor


def per_view_mlp(reading: int, width: int) -> nn.Sequential:
    """One view's reading -> a vector; the readings mix maps, colours and coordinates, so they
    are normalised first."""
    return nn.Sequential(nn.LayerNorm(reading), nn.Linear(reading, width), nn.GELU(),
                         nn.Linear(width, width), nn.GELU())


class ViewFusion(nn.Module):
    """Readings [M,K,R] of K extra views at M points (+ which views are there) -> [M,1,d]: the
    mean and max of the views' vectors."""

    def __init__(self, reading: int, width: int, d_model: int) -> None:
        super().__init__()
        self.per_view = per_view_mlp(reading, width)
        self.merge = nn.Linear(2 * width, d_model)
        self.gate = nn.Parameter(torch.zeros(d_model))  # zero: the single-view network as it was

    def forward(self, readings: torch.Tensor, present: torch.Tensor,
                query: torch.Tensor | None = None) -> torch.Tensor:
        """``query`` (the coordinate token [M,1,d]) is not read: the pooling is fixed."""
        h = self.per_view(readings)  # [M,K,w]
        there = present.unsqueeze(-1)  # [M,K,1] bool
        count = there.sum(1).clamp_min(1).to(h.dtype)
        mean = (h * there.to(h.dtype)).sum(1) / count
        peak = h.masked_fill(~there, float("-inf")).amax(1)
        any_view = there.any(1)  # [M,1]
        peak = torch.where(any_view, peak, torch.zeros_like(peak))
        out = self.merge(torch.cat([mean, peak], dim=-1)) * self.gate
        return (out * any_view.to(out.dtype)).unsqueeze(1)


class ViewAttention(nn.Module):
    """Readings [M,K,R] of K extra views at M points, which views are there [M,K] and the
    points' coordinate tokens [M,1,d] -> [M,1,d]: attention over the views, the coordinate
    token asking."""

    def __init__(self, reading: int, width: int, d_model: int,
                 heads: int = ATTENTION_HEADS) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"view_width {width} must be a multiple of {heads} heads")
        self.heads = heads
        self.per_view = per_view_mlp(reading, width)
        self.ask = nn.Linear(d_model, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.merge = nn.Linear(width, d_model)
        self.gate = nn.Parameter(torch.zeros(d_model))  # zero: the single-view network as it was

    def forward(self, readings: torch.Tensor, present: torch.Tensor,
                query: torch.Tensor | None = None) -> torch.Tensor:
        if query is None:
            raise ValueError("attention over the views needs the points' coordinate tokens")
        m, k, _ = readings.shape
        h = self.per_view(readings)  # [M,K,w]
        split = h.shape[-1] // self.heads
        q = self.ask(query.reshape(m, -1)).view(m, self.heads, split)
        keys = self.key(h).view(m, k, self.heads, split)
        values = self.value(h).view(m, k, self.heads, split)
        scores = torch.einsum("mhc,mkhc->mhk", q, keys) / split ** 0.5
        there = present[:, None, :]  # [M,1,K]
        scores = scores.masked_fill(~there, torch.finfo(scores.dtype).min)
        pooled = torch.einsum("mhk,mkhc->mhc", scores.softmax(-1), values).reshape(m, -1)
        any_view = present.any(1, keepdim=True)  # [M,1]: none there, the softmax is uniform junk
        out = self.merge(pooled) * self.gate
        return (out * any_view.to(out.dtype)).unsqueeze(1)


Fusion = ViewFusion | ViewAttention


def build_view_fusion(kind: str, reading: int, width: int, d_model: int) -> Fusion | None:
    """The fusion a config names ("none": None), or a clear error for an unknown name."""
    if kind not in FUSIONS:
        raise ValueError(f"unknown view_fusion {kind!r}; use one of {FUSIONS}")
    if kind == "meanmax":
        return ViewFusion(reading, width, d_model)
    return ViewAttention(reading, width, d_model) if kind == "attention" else None


def moved_points(points: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
    """Reference points [B,N,3] in every extra view's frame: [B,K,N,3] for transforms [B,K,4,4]."""
    t = transforms.to(points.dtype)
    return torch.einsum("bkij,bnj->bkni", t[..., :3, :3], points) + t[..., None, :3, 3]
