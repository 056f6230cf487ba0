"""backend.model.mobilenet: the MobileNetV2 trunk as the network's encoder."""

from __future__ import annotations

import torch

from backend.model import ModelConfig, Slice3DCompact, load_weights, save_weights
from backend.model.mobilenet import WIDTHS, MobileNetV2Trunk

TINY = {"group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32, "global_code": True}


def test_trunk_maps_have_the_documented_scales_and_widths():
    maps = MobileNetV2Trunk().eval()(torch.rand(2, 4, 128, 128))
    assert [m.shape[1] for m in maps] == list(WIDTHS)
    assert [m.shape[-1] for m in maps] == [64, 32, 16, 8]


def test_network_with_mobilenet_encoder_round_trips_through_safetensors(tmp_path):
    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict({**TINY, "encoder": "mobilenetv2"}))
    model.train()(torch.rand(4, 4, 128, 128), torch.rand(4, 8, 3) - 0.5)  # moves BN statistics
    model.eval()
    path = save_weights(model, tmp_path / "m.safetensors", dtype=torch.float32)
    loaded = load_weights(path)
    assert loaded.config.encoder == "mobilenetv2"
    img, pts = torch.rand(1, 4, 128, 128), torch.rand(1, 30, 3) - 0.5
    with torch.no_grad():
        assert torch.allclose(loaded(img, pts)[0], model(img, pts)[0], atol=1e-5)
    stats = "trunk.features.0.1.running_mean"
    assert torch.equal(loaded.state_dict()[stats], model.state_dict()[stats])
    assert not torch.all(model.state_dict()[stats] == 0)


def test_unknown_encoder_is_refused():
    try:
        Slice3DCompact(ModelConfig(encoder="vgg"))
    except ValueError as e:
        assert "vgg" in str(e)
    else:
        raise AssertionError("an unknown encoder was accepted")
