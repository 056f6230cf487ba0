"""backend.predictors.fused_decoder: the folded decoder gives query's SDF, one photo or several."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from backend.model.network import merge_maps
from backend.model.view_fusion import ExtraViews
from backend.multiview.poses import view_transform
from backend.predictors.fused_decoder import FusedDecoder, supports
from backend.predictors.network import InferenceSettings, NetworkPredictor

SMALL = {"channels": [8, 8, 16, 16], "group": 4, "d_model": 32, "heads": 4, "layers": 2, "ff": 48,
         "fourier": 3}
FUSING = {**SMALL, "view_fusion": "meanmax", "view_width": 16}
ATTENDING = {**FUSING, "view_fusion": "attention"}
SHIPPED = Path(__file__).resolve().parents[3] / "backend/weights/slice3d_compact.safetensors"
CPU = torch.device("cpu")


def image() -> np.ndarray:
    """An off-centre object, so that the mirror image differs."""
    rng = np.random.default_rng(0)
    im = np.ones((128, 128, 4), np.float32)
    im[30:100, 20:70, :3] = rng.uniform(0, 1, (70, 50, 3))
    im[:, :, 3] = 0.0
    im[30:100, 20:70, 3] = 1.0
    return im


def photos(count: int) -> list[np.ndarray]:
    """``count`` different framed photos (textured boxes placed apart on white)."""
    out = []
    for k in range(count):
        rng = np.random.default_rng(k)
        im = np.ones((128, 128, 4), np.float32)
        top, left = 20 + 6 * k, 30 + 4 * k
        im[top:top + 80, left:left + 60, :3] = rng.uniform(0.2, 0.9, (80, 60, 3))
        im[..., 3] = 0.0
        im[top:top + 80, left:left + 60, 3] = 1.0
        out.append(im)
    return out


def poses(count: int) -> list[np.ndarray]:
    """Photo 0's frame (the identity) and ``count - 1`` cameras around and above it."""
    return [view_transform(70.0 * k, 10.0, 10.0 - 12.0 * k) for k in range(count)]


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


@pytest.mark.parametrize("sampling", ["bilinear", "bicubic"])
def test_fused_colour_equals_query_colour(sampling):
    model = randomised({**SMALL, "colour_head": "mlp", "colour_width": 16})
    x = torch.rand(2, 4, 128, 128)
    with torch.no_grad():
        feats = merge_maps(model.encode(x))
        points = torch.rand(2, 500, 3) - 0.5
        expected = model.query_colour(feats, points, sampling=sampling)
        got = FusedDecoder(model).query_colour(feats, points, sampling)
    assert got.shape == expected.shape == (2, 500, 3)
    assert expected.std() > 0.01  # colours that vary from point to point
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


@pytest.mark.parametrize("config", [FUSING, ATTENDING], ids=["meanmax", "attention"])
@pytest.mark.parametrize("extra", [1, 2, 3])
def test_fused_query_with_extra_views_equals_query(extra, config):
    """Several photos: the view fusion's term joins the folded decoder's coordinate token
    (attention asks with that token); object 1 has one view only (the rest padding), object 2
    none."""
    model = randomised(config)
    b = 3
    with torch.no_grad():
        feats = merge_maps(model.encode(torch.rand(b, 4, 128, 128)))
        more = merge_maps(model.encode(torch.rand(b * extra, 4, 128, 128)))
        mats = torch.from_numpy(np.stack([[view_transform(50.0 * k + 20.0 * i, 5.0, 15.0 - 9 * k)
                                           for k in range(extra)] for i in range(b)])).float()
        present = torch.ones(b, extra, dtype=torch.bool)
        present[1, 1:] = False  # object 1 has one view only
        present[2] = False  # object 2 has none: the fusion adds nothing there
        views = ExtraViews(feats=more, transforms=mats, present=present)
        points = torch.rand(b, 600, 3) - 0.5
        fused = FusedDecoder(model)
        for sampling in ("bilinear", "bicubic"):
            expected = model.query(feats, points, sampling=sampling, views=views)
            got = fused.query(feats, points, sampling=sampling, views=views)
            assert got.shape == expected.shape == (b, 600)
            assert torch.allclose(got, expected, atol=2e-5, rtol=0)
        alone = model.query(feats, points, sampling="bicubic")
    # the views are read: each object with a view moves away from its one-photo SDF...
    assert (got[:2] - alone[:2]).abs().mean(1).min() > 1e-2
    # ...and the one without any is that SDF, as in the unfolded network
    assert torch.allclose(got[2], alone[2], atol=2e-5, rtol=0)


@pytest.mark.parametrize("count", [2, 3, 4])
def test_predictor_views_sdf_is_the_same_fused_or_not(tmp_path, count):
    path = save_weights(randomised(FUSING), tmp_path / "w.safetensors", dtype=torch.float32,
                        metadata=InferenceSettings(flip_average=True,
                                                   feature_sampling="bicubic").to_metadata())
    fused = NetworkPredictor(CPU, path)
    a = assert_views_sdf_equal(fused, NetworkPredictor(CPU, path, fused=False), count)
    one = fused.predict(photos(count)[0], flip_average=False).sdf(probe_points(count))
    assert (a - one).abs().mean() > 1e-2  # the other photos were read


def assert_views_sdf_equal(fused: NetworkPredictor, plain: NetworkPredictor, count: int
                           ) -> torch.Tensor:
    """Folded and unfolded several-photo SDFs agree, flip average on and off; returns the
    folded one without it, at ``probe_points(count)``."""
    assert fused.fuses_features and fused.decoder is not None and plain.decoder is None
    images, transforms, points = photos(count), poses(count), probe_points(count)
    for flip in (True, False):
        a = fused.predict_views(images, transforms, flip_average=flip).sdf(points)
        b = plain.predict_views(images, transforms, flip_average=flip).sdf(points)
        assert torch.allclose(a, b, atol=2e-5, rtol=0)
    return a


def probe_points(count: int) -> torch.Tensor:
    return torch.rand(2000, 3, generator=torch.Generator().manual_seed(count)) - 0.5


@pytest.fixture(scope="module")
def shipped() -> tuple[NetworkPredictor, NetworkPredictor]:
    if not SHIPPED.is_file():
        pytest.skip("no shipped weights here")
    return NetworkPredictor(CPU, SHIPPED), NetworkPredictor(CPU, SHIPPED, fused=False)


@pytest.mark.slow  # the shipped network at full size: about 30 s for the three
@pytest.mark.parametrize("count", [2, 3, 4])
def test_shipped_views_sdf_is_the_same_fused_or_not(shipped, count):
    """The shipped weights (a trained view fusion, flip average on): folded equals unfolded."""
    assert_views_sdf_equal(*shipped, count)
