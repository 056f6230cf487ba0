"""Feature fusion over extra views: what other photos of the object say about a query point.

A query point p of the reference view frame is moved into each extra view k's frame
(``p_k = transforms[k] p``), projected there and read from view k's cached maps exactly as the
reference view's features are read (``Slice3DCompact.view_reading``). A small MLP turns each
view's reading into a vector; their mean and max over the views (only the views that are there)
go through one more layer and are ADDED to the coordinate token through a per-channel gate that
starts at zero. So a network whose fusion weights are new answers exactly as the single-view one,
and a point with no extra view gets nothing added.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

FUSIONS = ("none", "meanmax")


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


class ViewFusion(nn.Module):
    """Readings [M,K,R] of K extra views at M points (+ which views are there) -> [M,1,d]."""

    def __init__(self, reading: int, width: int, d_model: int) -> None:
        super().__init__()
        self.per_view = nn.Sequential(  # readings mix maps, colours and coordinates: normalised
            nn.LayerNorm(reading), nn.Linear(reading, width), nn.GELU(),
            nn.Linear(width, width), nn.GELU(),
        )
        self.merge = nn.Linear(2 * width, d_model)
        self.gate = nn.Parameter(torch.zeros(d_model))  # zero: the single-view network as it was

    def forward(self, readings: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        h = self.per_view(readings)  # [M,K,w]
        there = present.unsqueeze(-1)  # [M,K,1] bool
        count = there.sum(1).clamp_min(1).to(h.dtype)
        mean = (h * there.to(h.dtype)).sum(1) / count
        peak = h.masked_fill(~there, float("-inf")).amax(1)
        any_view = there.any(1)  # [M,1]
        peak = torch.where(any_view, peak, torch.zeros_like(peak))
        out = self.merge(torch.cat([mean, peak], dim=-1)) * self.gate
        return (out * any_view.to(out.dtype)).unsqueeze(1)


def build_view_fusion(kind: str, reading: int, width: int, d_model: int) -> ViewFusion | None:
    """The fusion a config names ("none": None), or a clear error for an unknown name."""
    if kind not in FUSIONS:
        raise ValueError(f"unknown view_fusion {kind!r}; use one of {FUSIONS}")
    return ViewFusion(reading, width, d_model) if kind == "meanmax" else None


def moved_points(points: torch.Tensor, transforms: torch.Tensor) -> torch.Tensor:
    """Reference points [B,N,3] in every extra view's frame: [B,K,N,3] for transforms [B,K,4,4]."""
    t = transforms.to(points.dtype)
    return torch.einsum("bkij,bnj->bkni", t[..., :3, :3], points) + t[..., None, :3, 3]
