"""ImageNet features beside the network's own (``ModelConfig.side_encoder``).

A pretrained trunk that *replaces* the U-Net must relearn everything the decoder was trained
to read, and short runs could not afford that (docs/experiments/pretrained_encoder.md). Here
the U-Net stays and a frozen ImageNet trunk runs beside it: its 1/4, 1/8 and 1/16 maps,
brought to 1/4 and projected to a few channels, are sampled at each point's projection, and its
pooled 1/16 map joins them; a small MLP whose last layer starts at zero adds what they say to
the coordinate token (``to_coord``). So a trained network keeps its output at the first step and
only learns what the ImageNet features add, which is the question for photos; and the new part
is a module of its own, which a run may train at its own learning rate (config ``lr_scale``).

The trunk is frozen (no gradients, batch norm on its ImageNet statistics whatever the mode):
its features stay those that generalise beyond our renders.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .efficientnet import VARIANTS, EfficientNetLite

SIDE_TAPS = (1, 2, 3)  # the trunk's 1/4, 1/8 and 1/16 maps


class SideEncoder(nn.Module):
    """RGBA [B,4,S,S] in [0,1] -> a [B,width,S/4,S/4] map and a [B,pooled] code."""

    def __init__(self, encoder: str, width: int, d_model: int) -> None:
        super().__init__()
        if encoder not in VARIANTS:
            raise ValueError(f"unknown side encoder {encoder!r}; use one of {sorted(VARIANTS)}")
        self.trunk = EfficientNetLite(encoder)
        self.trunk.requires_grad_(False)
        widths = self.trunk.widths
        self.pooled = widths[SIDE_TAPS[-1]]
        self.proj = nn.Conv2d(sum(widths[i] for i in SIDE_TAPS), width, 1)
        last = nn.Linear(d_model, d_model)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.to_coord = nn.Sequential(nn.Linear(width + self.pooled, d_model), nn.GELU(), last)

    def train(self, mode: bool = True) -> SideEncoder:
        """Only the projection follows ``mode``: the trunk keeps its ImageNet statistics."""
        super().train(mode)
        self.trunk.eval()
        return self

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            taps = self.trunk(image)
        size = taps[SIDE_TAPS[0]].shape[-2:]
        maps = [taps[SIDE_TAPS[0]]] + [
            F.interpolate(taps[i], size=size, mode="bilinear", align_corners=False)
            for i in SIDE_TAPS[1:]]
        return self.proj(torch.cat(maps, dim=1)), taps[SIDE_TAPS[-1]].float().mean(dim=(2, 3))
