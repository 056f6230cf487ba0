"""backend.predictors.base: several photos fused into one prediction, for any predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.predictors.base import intersected_sdf, transform_scale
from backend.predictors.silhouette import SilhouettePredictor

CPU = torch.device("cpu")


def ellipse(half_width: float, half_height: float) -> np.ndarray:
    """A framed model input: a grey ellipse on white, its mask in alpha."""
    g = (np.arange(128) + 0.5) / 64.0 - 1.0
    yy, xx = np.meshgrid(g, g, indexing="ij")
    inside = (xx / half_width) ** 2 + (yy / half_height) ** 2 <= 1.0
    im = np.ones((128, 128, 4), np.float32)
    im[inside, :3] = 0.5
    im[..., 3] = inside
    return im


def turned(azimuth_deg: float, scale: float = 1.0) -> np.ndarray:
    """Reference view frame -> the frame of a camera moved round the object by the azimuth."""
    a = np.radians(azimuth_deg)
    t = np.eye(4)
    t[:3, :3] = scale * np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    return t


def points(n: int = 4000) -> torch.Tensor:
    return torch.rand(n, 3, generator=torch.Generator().manual_seed(0)) - 0.5


def test_one_photo_is_exactly_the_single_image_prediction():
    pred, im = SilhouettePredictor(CPU), ellipse(0.6, 0.6)
    one, fused = pred.predict(im), pred.predict_views([im], [np.eye(4)])
    assert np.array_equal(fused.slices, one.slices) and fused.slabs == one.slabs
    assert torch.equal(fused.sdf(points()), one.sdf(points()))


def test_two_photos_give_the_visual_hull_of_the_baseline():
    """A wide front and a narrow side: points the front alone calls solid but that fall outside
    the side photo's outline are cut away; every value is the max of the two views' SDFs."""
    pred = SilhouettePredictor(CPU)
    front, side = ellipse(0.7, 0.6), ellipse(0.2, 0.6)
    fused = pred.predict_views([front, side], [np.eye(4), turned(90)])
    p = points()
    own = pred.predict(front).sdf(p)
    moved = (p.double() @ torch.from_numpy(turned(90)[:3, :3]).T).float()
    assert torch.allclose(fused.sdf(p), torch.maximum(own, pred.predict(side).sdf(moved)),
                          atol=1e-6)
    cut = (own < 0) & (fused.sdf(p) > 0)
    assert cut.sum() > 50  # the side view carves a good part of the front's inflated solid
    assert (fused.sdf(p) >= own - 1e-6).all()  # an intersection only ever removes
    assert np.array_equal(fused.slices, pred.predict(front).slices)  # slices: the reference's


def test_a_scaled_view_is_read_back_in_reference_units():
    pred, im = SilhouettePredictor(CPU), ellipse(0.5, 0.5)
    t = turned(0, scale=2.0)
    assert transform_scale(t) == pytest.approx(2.0)
    single = pred.predict(im).sdf
    fused = intersected_sdf([single, single], [np.eye(4), t])
    p = points()
    assert torch.allclose(fused(p), torch.maximum(single(p), single(2 * p) / 2), atol=1e-6)


def test_views_and_transforms_must_match():
    pred, im = SilhouettePredictor(CPU), ellipse(0.5, 0.5)
    with pytest.raises(ValueError, match="2 images but 1 transforms"):
        pred.predict_views([im, im], [np.eye(4)])
    with pytest.raises(ValueError, match="at least one image"):
        pred.predict_views([], [])
    with pytest.raises(ValueError, match=r"transforms\[1\] must be a 4x4 matrix"):
        pred.predict_views([im, im], [np.eye(4), np.eye(3)])
