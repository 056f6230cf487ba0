"""backend.predictors.fused_decoder: the folded decoder gives query's SDF."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from backend.model.network import merge_maps
from backend.predictors.fused_decoder import FusedDecoder, supports
from backend.predictors.network import InferenceSettings, NetworkPredictor

SMALL = {"channels": [8, 8, 16, 16], "group": 4, "d_model": 32, "heads": 4, "layers": 2, "ff": 48,
         "fourier": 3}


def image() -> np.ndarray:
    """An off-centre object, so that the mirror image differs."""
    rng = np.random.default_rng(0)
    im = np.ones((128, 128, 4), np.float32)
    im[30:100, 20:70, :3] = rng.uniform(0, 1, (70, 50, 3))
    im[:, :, 3] = 0.0
    im[30:100, 20:70, 3] = 1.0
    return im


def randomised(config: dict) -> Slice3DCompact:
    """A network whose every parameter (norm scales and shifts, biases, the slice embedding)
    is far from its initial value, so each fold is exercised."""
    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict(config)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.3 + (0.5 if p.ndim == 1 else 0.0))
    return model


@pytest.mark.parametrize("sampling", ["bilinear", "bicubic"])
@pytest.mark.parametrize("global_code", [False, True])
def test_fused_query_equals_query(sampling, global_code):
    model = randomised({**SMALL, "global_code": global_code})
    x = torch.rand(2, 4, 128, 128)
    with torch.no_grad():
        feats = merge_maps(model.encode(x))
        points = torch.rand(2, 700, 3) - 0.5
        expected = model.query(feats, points, sampling=sampling)
        got = FusedDecoder(model).query(feats, points, sampling=sampling)
    assert got.shape == expected.shape == (2, 700)
    assert expected.std() > 0.1  # a network whose SDF varies, not a constant
    assert torch.allclose(got, expected, atol=2e-5, rtol=0)


def test_other_mixers_are_not_folded():
    assert supports(randomised(SMALL))
    for other in ({**SMALL, "mixer": "self"}, {**SMALL, "slices": False}):
        model = randomised(other)
        assert not supports(model)
        with pytest.raises(ValueError):
            FusedDecoder(model)


def test_predictor_sdf_is_the_same_fused_or_not(tmp_path):
    path = save_weights(randomised(SMALL), tmp_path / "w.safetensors", dtype=torch.float32,
                        metadata=InferenceSettings(flip_average=True,
                                                   feature_sampling="bicubic").to_metadata())
    fused = NetworkPredictor(torch.device("cpu"), path)
    plain = NetworkPredictor(torch.device("cpu"), path, fused=False)
    assert fused.decoder is not None and plain.decoder is None
    points = torch.rand(5000, 3) - 0.5
    for flip in (True, False):
        a = fused.predict(image(), flip_average=flip).sdf(points)
        b = plain.predict(image(), flip_average=flip).sdf(points)
        assert torch.allclose(a, b, atol=2e-5, rtol=0)
