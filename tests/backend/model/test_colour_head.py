"""backend.model.colour_head and the network's colour branch: the SDF path is untouched by it,
the colour is sRGB in 0..1, and weights with and without a head load as they should."""

from __future__ import annotations

import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, load_weights, save_weights
from backend.model.colour_head import build_colour_head, object_colour

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def _pair() -> tuple[Slice3DCompact, Slice3DCompact]:
    """A network and the same weights with a colour head beside them."""
    torch.manual_seed(0)
    plain = Slice3DCompact(ModelConfig.from_dict(TINY)).eval()
    coloured = Slice3DCompact(ModelConfig.from_dict({**TINY, "colour_head": "mlp"})).eval()
    missing = coloured.load_state_dict(plain.state_dict(), strict=False).missing_keys
    assert missing and all(k.startswith("colour_head.") for k in missing)
    return plain, coloured


def test_the_sdf_is_bit_identical_with_a_colour_head():
    plain, coloured = _pair()
    image, points = torch.rand(2, 4, 128, 128), torch.rand(2, 300, 3) - 0.5
    with torch.no_grad():
        a = plain.query(plain.encode(image), points, sampling="bicubic")
        b = coloured.query(coloured.encode(image), points, sampling="bicubic")
    assert torch.equal(a, b)


def test_query_colour_is_srgb_per_point_and_reads_the_photo():
    _, coloured = _pair()
    points = torch.rand(1, 50, 3) - 0.5
    with torch.no_grad():
        red = torch.zeros(1, 4, 128, 128)
        red[:, 0], red[:, 3] = 1.0, 1.0
        blue = red[:, [2, 1, 0, 3]]
        a = coloured.query_colour(coloured.encode(red), points)
        b = coloured.query_colour(coloured.encode(blue), points)
    assert a.shape == (1, 50, 3) and a.min() >= 0 and a.max() <= 1
    assert not torch.allclose(a, b)  # the photo's colour is among its inputs


def test_a_network_without_a_head_says_so():
    plain, _ = _pair()
    with pytest.raises(ValueError, match="no colour head"):
        plain.query_colour(plain.encode(torch.rand(1, 4, 128, 128)), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="unknown colour_head"):
        build_colour_head("rgb", 16, 8)


def test_weights_with_a_head_round_trip(tmp_path):
    _, coloured = _pair()
    path = save_weights(coloured, tmp_path / "c.safetensors", dtype=torch.float32)
    back = load_weights(path)
    assert back.config.colour_head == "mlp" and back.colour_head is not None
    for k, v in coloured.state_dict().items():
        assert torch.equal(back.state_dict()[k], v), k


def test_object_colour_is_the_alpha_weighted_mean():
    image = torch.zeros(2, 4, 4, 4)
    image[0, :3] = 1.0  # white background
    image[0, 0, :2], image[0, 3, :2] = 0.2, 1.0  # the object: red channel 0.2 in the top half
    got = object_colour(image)
    assert torch.allclose(got[0], torch.tensor([0.2, 1.0, 1.0]))
    assert torch.allclose(got[1], torch.full((3,), 0.5))  # no object: grey
