"""training.warm_start: a changed config starts from trained weights, input by input."""

from __future__ import annotations

import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from training.warm_start import (
    COORD_WEIGHT,
    TOKEN_WEIGHT,
    coordinate_inputs,
    token_inputs,
    warm_start,
)

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def build(**kw) -> Slice3DCompact:
    return Slice3DCompact(ModelConfig.from_dict({**TINY, **kw})).eval()


@pytest.fixture
def trained(tmp_path):
    torch.manual_seed(0)
    model = build(fourier=4)
    return model, save_weights(model, tmp_path / "w.safetensors", dtype=torch.float32)


def test_coordinate_inputs_match_the_layer():
    for kw in ({}, {"fourier": 2}, {"global_code": True}):
        model = build(**kw)
        assert len(coordinate_inputs(model.config)) == model.coord_tok[0].in_features


def test_adding_the_global_code_keeps_the_output(trained):
    old, path = trained
    torch.manual_seed(1)
    new = build(fourier=4, global_code=True)
    assert warm_start(new, path) == []
    img, pts = torch.rand(1, 4, 128, 128), torch.rand(1, 40, 3) - 0.5
    with torch.no_grad():
        assert torch.allclose(new(img, pts)[0], old(img, pts)[0], atol=1e-6)
    cols = coordinate_inputs(new.config)
    w = new.state_dict()[COORD_WEIGHT]
    assert torch.all(w[:, cols["global0"]:] == 0)  # new inputs start silent


def test_fewer_octaves_keep_the_low_ones(trained):
    old, path = trained
    new = build(fourier=2)
    warm_start(new, path)
    w_old, w_new = old.state_dict()[COORD_WEIGHT], new.state_dict()[COORD_WEIGHT]
    c_old, c_new = coordinate_inputs(old.config), coordinate_inputs(new.config)
    for name in ("xyz0", "sin1_0", "cos2_1", "ctx3", "img3", "rel2"):
        assert torch.equal(w_new[:, c_new[name]], w_old[:, c_old[name]]), name
    assert "sin0_3" not in c_new
    assert torch.equal(new.state_dict()["sdf_head.weight"], old.state_dict()["sdf_head.weight"])


def test_a_wider_feed_forward_block_keeps_the_output(trained):
    old, path = trained
    torch.manual_seed(2)
    new = build(fourier=4, ff=48)
    assert warm_start(new, path) == []
    img, pts = torch.rand(1, 4, 128, 128), torch.rand(1, 40, 3) - 0.5
    with torch.no_grad():
        assert torch.allclose(new(img, pts)[0], old(img, pts)[0], atol=1e-6)
    w_in = new.state_dict()["mixer.0.ff.0.weight"]
    w_out = new.state_dict()["mixer.0.ff.2.weight"]
    assert w_in.shape == (48, 16) and w_out.shape == (16, 48)
    assert torch.all(w_out[:, 32:] == 0)  # the new hidden units are read with zero weights
    assert w_in[32:].abs().sum() > 0  # but compute something the run can learn to use


def test_a_narrower_layer_is_left_as_built(trained):
    _, path = trained
    new = build(fourier=4, ff=16)
    assert "mixer.0.ff.0.weight" in warm_start(new, path)


def test_token_inputs_match_the_layer():
    for slices in (True, False):
        model = build(slices=slices)
        assert len(token_inputs(model.config)) == model.slice_tok[0].in_features


def test_the_no_slice_ablation_keeps_the_image_features(trained):
    old, path = trained
    torch.manual_seed(3)
    new = build(fourier=4, slices=False)
    assert warm_start(new, path) == []  # every parameter it has comes from the slice network
    w_old, w_new = old.state_dict()[TOKEN_WEIGHT], new.state_dict()[TOKEN_WEIGHT]
    assert w_new.shape == (16, 2)
    assert torch.equal(w_new, w_old[:, :2])  # the feature-map columns; grey/alpha/slab dropped
    kept = [key for key in new.state_dict() if key != TOKEN_WEIGHT]
    assert "enc0.0.0.weight" in kept and "sdf_head.weight" in kept
    for key in kept:
        assert torch.equal(new.state_dict()[key], old.state_dict()[key]), key


def test_adding_the_slice_branch_keeps_the_output(tmp_path):
    torch.manual_seed(4)
    old = build(fourier=4, slices=False)
    path = save_weights(old, tmp_path / "noslice.safetensors", dtype=torch.float32)
    torch.manual_seed(5)
    new = build(fourier=4)
    fresh = warm_start(new, path)
    assert fresh and all(key.startswith("slice_head.") for key in fresh)
    img, pts = torch.rand(1, 4, 128, 128), torch.rand(1, 40, 3) - 0.5
    with torch.no_grad():
        assert torch.allclose(new(img, pts)[0], old(img, pts)[0], atol=1e-6)
    cols = token_inputs(new.config)
    assert torch.all(new.state_dict()[TOKEN_WEIGHT][:, cols["grey"]:] == 0)
