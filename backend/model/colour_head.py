"""The colour head: what the surface looks like at a query point, for the parts the photo hides.

It reads what the SDF head reads (the point decoder's last hidden state, after ``out_norm``),
the input's RGBA at the point's projection (the photo's colour along the ray through the point:
right on the seen side, the front's colour on the back), the object's mean colour in the photo
(its overall tint and exposure) and where the point lies in the predicted box. A small MLP turns
them into sRGB albedo in 0..1 (a sigmoid).

The head is a branch off the SDF path, never an input to it, so a network that gains one answers
SDF queries bit for bit as before; it is trained alone on the frozen network
(``train_only_colour``). Off by default (``colour_head = "none"``), so every existing config and
weights file loads unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

COLOUR_HEADS = ("none", "mlp")
# inputs beside the hidden state: RGBA at the projection (4), the object's mean colour (3),
# the point relative to the predicted box (3)
EXTRA_INPUTS = 4 + 3 + 3


class ColourHead(nn.Module):
    """[M, d + EXTRA_INPUTS] -> sRGB [M, 3] in 0..1."""

    def __init__(self, d_model: int, width: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(d_model + EXTRA_INPUTS, width), nn.GELU(),
            nn.Linear(width, width), nn.GELU(),
            nn.Linear(width, 3),
        )

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(inputs))


def build_colour_head(kind: str, d_model: int, width: int) -> ColourHead | None:
    """The head a config names ("none": None), or a clear error for an unknown name."""
    if kind not in COLOUR_HEADS:
        raise ValueError(f"unknown colour_head {kind!r}; use one of {COLOUR_HEADS}")
    return ColourHead(d_model, width) if kind == "mlp" else None


def object_colour(image: torch.Tensor) -> torch.Tensor:
    """The alpha-weighted mean RGB of images [B,4,H,W] -> [B,3] (grey where there is no object)."""
    alpha = image[:, 3:4]
    total = alpha.sum(dim=(2, 3))
    mean = (image[:, :3] * alpha).sum(dim=(2, 3)) / total.clamp_min(1e-6)
    return torch.where(total > 1e-6, mean, torch.full_like(mean, 0.5))
