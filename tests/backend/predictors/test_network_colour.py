"""backend.predictors.network: the colour head's ``colour_at`` (issue 34): there only for weights
with a head, the network's own colour (through the folded decoder, against the model's own
``query_colour``), flip-averaged as the SDF is, batched over any count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from backend.predictors.network import MIRROR_X, QUERY_CHUNK, InferenceSettings, NetworkPredictor

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}
CPU = torch.device("cpu")


def predictor(tmp_path, head: str, flip: bool) -> NetworkPredictor:
    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict({**TINY, "colour_head": head}))
    path = save_weights(model, tmp_path / f"{head}{flip}.safetensors", dtype=torch.float32,
                        metadata=InferenceSettings(flip_average=flip).to_metadata())
    return NetworkPredictor(CPU, path)


def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    im = np.ones((128, 128, 4), np.float32)
    im[..., 3] = 0.0
    im[30:100, 20:70, :3] = rng.uniform(0, 1, (70, 50, 3))  # off-centre: mirroring matters
    im[30:100, 20:70, 3] = 1.0
    return im


def test_weights_without_a_head_give_no_colour(tmp_path):
    pred = predictor(tmp_path, "none", True)
    prediction = pred.predict(image())
    assert prediction.colour_at is None and pred.colour_function(prediction) is None


@pytest.mark.parametrize("flip", [False, True])
def test_colour_at_is_the_heads_colour_of_the_photo_alone(tmp_path, flip):
    """Whether or not the SDF is flip-averaged, the colours are the head's reading of the photo
    itself (the mirror image's average measured level and cost twice the time)."""
    pred = predictor(tmp_path, "mlp", flip)
    assert pred.decoder is not None  # the colour runs through the folded decoder
    colour_at = pred.colour_function(pred.predict(image()))
    assert colour_at is not None
    rng = np.random.default_rng(1)
    points = rng.uniform(-0.4, 0.4, (QUERY_CHUNK + 77, 3))  # more than one chunk
    got = colour_at(points)
    assert got.shape == points.shape and got.dtype == np.float64
    assert got.min() >= 0.0 and got.max() <= 1.0
    model = pred.model
    sampling = pred.settings.feature_sampling
    pts = torch.from_numpy(points.astype(np.float32))
    with torch.no_grad():
        expected = model.query_colour(pred.encode(image()), pts[None], sampling=sampling)[0]
        mirrored = pred.encode(np.ascontiguousarray(image()[:, ::-1]))
        other = model.query_colour(mirrored, (pts * torch.tensor(MIRROR_X))[None],
                                   sampling=sampling)[0]
    assert np.abs(expected.numpy() - other.numpy()).mean() > 1e-3  # the mirror would differ
    np.testing.assert_allclose(got, expected.numpy(), atol=1e-5)
    assert colour_at(np.zeros((0, 3))).shape == (0, 3)
