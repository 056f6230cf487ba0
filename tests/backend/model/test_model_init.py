"""backend.model.init: both image trunks start from Kaiming fan-out convolutions and identity
batch norms (PyTorch's own default would give a depthwise 3x3 convolution a std of 0.19, several
times the Kaiming one)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from backend.model.efficientnet import EfficientNetLite
from backend.model.mobilenet import MobileNetV2Trunk


@pytest.mark.parametrize("build", [EfficientNetLite, MobileNetV2Trunk], ids=["lite0", "mobilenet"])
def test_trunks_start_from_kaiming_convolutions_and_identity_batch_norms(build):
    torch.manual_seed(0)
    trunk = build()
    convs = [m for m in trunk.modules() if isinstance(m, nn.Conv2d) and m.weight.numel() >= 2000]
    assert convs
    for conv in convs:
        w = conv.weight.detach()
        fan_out = w.shape[0] * w[0, 0].numel()
        assert float(w.std()) == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.15), conv
    for bn in (m for m in trunk.modules() if isinstance(m, nn.BatchNorm2d)):
        assert torch.all(bn.weight == 1) and torch.all(bn.bias == 0)

