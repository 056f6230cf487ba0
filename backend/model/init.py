"""Starting weights shared by the image trunks (EfficientNet-Lite, MobileNetV2) before any
pretrained weights are copied in."""

from __future__ import annotations

from torch import nn


def init_conv_bn(module: nn.Module) -> None:
    """Kaiming-normal (fan-out) weights for every convolution under ``module``, and batch norms
    that start as the identity (weight 1, bias 0): the initialisation both trunks were designed
    with. Modules are visited in ``module.modules()`` order, so a fixed seed gives fixed weights."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
