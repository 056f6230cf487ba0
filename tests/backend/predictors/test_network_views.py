"""backend.predictors.network: several photos through the network (issue 35)."""

from __future__ import annotations

import numpy as np
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from backend.model.view_fusion import ExtraViews
from backend.multiview.poses import view_transform
from backend.predictors.base import intersected_sdf
from backend.predictors.network import MIRROR_X, InferenceSettings, NetworkPredictor

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32,
        "view_width": 8}
CPU = torch.device("cpu")
MIRROR = np.diag([*MIRROR_X, 1.0])


def predictor(tmp_path, settings: InferenceSettings, gate: float | None = None) -> NetworkPredictor:
    """A tiny network; with ``gate`` a view fusion whose gate is opened to that value."""
    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict(
        {**TINY, "view_fusion": "none" if gate is None else "meanmax"}))
    if model.view_fusion is not None:
        with torch.no_grad():
            model.view_fusion.gate.fill_(gate)
    path = save_weights(model, tmp_path / f"w{gate}.safetensors", dtype=torch.float32,
                        metadata=settings.to_metadata())
    return NetworkPredictor(CPU, path)


def photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    im = np.ones((128, 128, 4), np.float32)
    top, left = 25 + 5 * seed, 20 + 7 * seed
    im[top:top + 70, left:left + 50, :3] = rng.uniform(0, 1, (70, 50, 3))
    im[..., 3] = 0.0
    im[top:top + 70, left:left + 50, 3] = 1.0
    return im


def turned(azimuth: float) -> np.ndarray:
    """Photo 0's view frame -> that of a camera moved round the object, level: the backend's
    one pose definition."""
    return view_transform(azimuth, 0.0, 0.0)


PHOTOS = [photo(0), photo(1), photo(2)]
TRANSFORMS = [np.eye(4), turned(70), turned(200)]


def points() -> torch.Tensor:
    return torch.rand(700, 3, generator=torch.Generator().manual_seed(3)) - 0.5


def test_one_photo_is_exactly_predict(tmp_path):
    for gate in (None, 0.7):
        pred = predictor(tmp_path, InferenceSettings(flip_average=True, depth_clip=0.1), gate)
        one = pred.predict_views(PHOTOS[:1], TRANSFORMS[:1])
        assert torch.equal(one.sdf(points()), pred.predict(PHOTOS[0]).sdf(points()))


def test_weights_without_a_fusion_intersect_the_photos_unclipped(tmp_path):
    pred = predictor(tmp_path, InferenceSettings(depth_clip=0.1))
    assert not pred.fuses_features
    fused = pred.predict_views(PHOTOS, TRANSFORMS)
    unclipped = predictor(tmp_path, InferenceSettings())
    own = [unclipped.predict(im).sdf for im in PHOTOS]
    assert torch.allclose(fused.sdf(points()), intersected_sdf(own, TRANSFORMS)(points()),
                          atol=1e-6)
    assert np.array_equal(fused.slices, pred.predict(PHOTOS[0]).slices)


def test_a_closed_gate_answers_as_the_reference_photo_alone(tmp_path):
    pred = predictor(tmp_path, InferenceSettings(flip_average=True), gate=0.0)
    assert pred.fuses_features
    fused = pred.predict_views(PHOTOS, TRANSFORMS).sdf(points())
    assert torch.allclose(fused, pred.predict(PHOTOS[0]).sdf(points()), atol=1e-6)


def test_fused_features_read_every_photo_and_flip_average_mirrors_the_scene(tmp_path):
    plain = predictor(tmp_path, InferenceSettings(), gate=0.7)
    flipped = predictor(tmp_path, InferenceSettings(flip_average=True), gate=0.7)
    p = points()
    model = plain.model

    def direct(images: list[np.ndarray], transforms: list[np.ndarray], at: torch.Tensor):
        extra = [plain.encode(im) for im in images[1:]]
        views = ExtraViews({k: torch.cat([f[k] for f in extra]) for k in extra[0]},
                           torch.from_numpy(np.stack(transforms[1:])).float()[None],
                           torch.ones(1, len(extra), dtype=torch.bool))
        return model.query(plain.encode(images[0]), at[None], views=views)[0]

    with torch.no_grad():
        expected = direct(PHOTOS, TRANSFORMS, p)
    got = plain.predict_views(PHOTOS, TRANSFORMS).sdf(p)
    assert torch.allclose(got, expected, atol=1e-5)
    assert not torch.allclose(got, plain.predict(PHOTOS[0]).sdf(p), atol=1e-3)
    # the flip average: the photos and the same scene in a mirror (photos flipped, M T M)
    mirrored = [np.ascontiguousarray(im[:, ::-1]) for im in PHOTOS]
    mirror_t = [MIRROR @ t @ MIRROR for t in TRANSFORMS]
    flip = torch.tensor(MIRROR_X)
    with torch.no_grad():
        mean = 0.5 * (expected + direct(mirrored, mirror_t, p * flip))
    averaged = flipped.predict_views(PHOTOS, TRANSFORMS).sdf(p)
    assert torch.allclose(averaged, mean, atol=1e-5)
    # the mirrored scene, flip-averaged, gives the same answer at the mirrored points
    assert torch.allclose(flipped.predict_views(mirrored, mirror_t).sdf(p * flip), averaged,
                          atol=1e-5)
