"""backend.predictors.network: inference settings carried in the weights' metadata."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, save_weights
from backend.model.network import merge_maps
from backend.predictors import network as network_module
from backend.predictors.chunks import map_chunks
from backend.predictors.network import (
    DEVICE_QUERY_CHUNK,
    MIRROR_X,
    QUERY_CHUNK,
    InferenceSettings,
    NetworkPredictor,
    query_chunk,
)

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}
CPU = torch.device("cpu")


@pytest.fixture
def weights(tmp_path):
    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict(TINY))

    def write(settings: InferenceSettings | None) -> NetworkPredictor:
        meta = settings.to_metadata() if settings else None
        path = save_weights(model, tmp_path / f"w{id(settings)}.safetensors",
                            dtype=torch.float32, metadata=meta)
        return NetworkPredictor(CPU, path)

    return write


def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    im = np.ones((128, 128, 4), np.float32)
    im[30:100, 20:70, :3] = rng.uniform(0, 1, (70, 50, 3))  # off-centre: mirroring matters
    im[:, :, 3] = 0.0
    im[30:100, 20:70, 3] = 1.0
    return im


def test_weights_without_settings_run_the_plain_network(weights):
    pred = weights(None)
    assert pred.settings == InferenceSettings()


def test_surface_offset_lowers_the_sdf_by_exactly_the_offset(weights):
    plain, grown = weights(None), weights(InferenceSettings(surface_offset=0.01))
    assert grown.settings.surface_offset == 0.01
    pts = torch.rand(500, 3) - 0.5
    a, b = plain.predict(image()).sdf(pts), grown.predict(image()).sdf(pts)
    assert torch.allclose(b, a - 0.01, atol=1e-6)


def test_flip_average_is_the_mean_over_the_image_and_its_mirror(weights):
    plain, flipped = weights(None), weights(InferenceSettings(flip_average=True))
    im = image()
    mirror_im = np.ascontiguousarray(im[:, ::-1])
    pts = torch.rand(500, 3) - 0.5
    mirror_pts = pts * torch.tensor(MIRROR_X)
    expected = 0.5 * (plain.predict(im).sdf(pts) + plain.predict(mirror_im).sdf(mirror_pts))
    got = flipped.predict(im).sdf(pts)
    assert torch.allclose(got, expected, atol=1e-5)
    # a per-call override beats the weights' setting either way
    assert torch.allclose(plain.predict(im, flip_average=True).sdf(pts), expected, atol=1e-5)
    assert torch.equal(flipped.predict(im, flip_average=False).sdf(pts), plain.predict(im).sdf(pts))
    assert not torch.allclose(got, plain.predict(im).sdf(pts), atol=1e-3)
    # mirrored image, mirrored points: the same answer
    assert torch.allclose(flipped.predict(mirror_im).sdf(mirror_pts), got, atol=1e-5)


def test_depth_clip_cuts_the_surface_to_the_predicted_box_in_depth(weights):
    plain, cut = weights(None), weights(InferenceSettings(depth_clip=0.1))
    assert cut.settings.depth_clip == 0.1
    im = image()
    z_lo, z_hi = plain.encode(im)["bbox"][0, :, 2].tolist()
    centre, half = (z_lo + z_hi) / 2, (z_hi - z_lo) / 2 * 1.1
    pts = torch.rand(2000, 3) - 0.5
    a, b = plain.predict(im).sdf(pts), cut.predict(im).sdf(pts)
    box = (pts[:, 2] - centre).abs() - half
    assert torch.allclose(b, torch.maximum(a, box), atol=1e-6)
    outside = box > 0
    assert outside.any() and (b[outside] > 0).all()  # nothing solid beyond the widened box
    inside = box < -0.05
    assert torch.allclose(b[inside & (a > -0.05)], a[inside & (a > -0.05)], atol=1e-6)


def test_depth_clip_travels_through_the_metadata():
    s = InferenceSettings(flip_average=True, depth_clip=0.2)
    assert InferenceSettings.from_metadata(s.to_metadata()) == s
    assert InferenceSettings.from_metadata(InferenceSettings().to_metadata()).depth_clip is None


def test_bicubic_feature_sampling_travels_through_the_metadata_and_changes_the_sdf(weights):
    plain, cubic = weights(None), weights(InferenceSettings(feature_sampling="bicubic"))
    assert plain.settings.feature_sampling == "bilinear"
    assert cubic.settings.feature_sampling == "bicubic"
    pts = torch.rand(500, 3) - 0.5
    a, b = plain.predict(image()).sdf(pts), cubic.predict(image()).sdf(pts)
    assert torch.isfinite(b).all()
    assert not torch.allclose(a, b, atol=1e-4)
    # the same as asking the network for bicubic sampling directly
    feats = plain.encode(image())
    direct = plain.model.query(feats, pts[None], sampling="bicubic")[0]
    assert torch.allclose(b, direct, atol=1e-6)


def test_an_unknown_feature_sampling_is_refused_by_name():
    with pytest.raises(ValueError, match="feature_sampling must be one of bilinear, bicubic"):
        InferenceSettings.from_metadata({"slice3d_inference": '{"feature_sampling": "nearest"}'})


def test_silhouette_fill_travels_through_the_metadata_with_the_input_mask(weights):
    plain, filled = weights(None), weights(InferenceSettings(silhouette_fill=0.02))
    assert plain.predict(image()).silhouette_fill is None
    fill = filled.predict(image()).silhouette_fill
    assert fill is not None and fill.half_thickness == 0.02
    assert np.array_equal(fill.mask, image()[..., 3] > 0.5)
    s = InferenceSettings(flip_average=True, silhouette_fill=0.01)
    assert InferenceSettings.from_metadata(s.to_metadata()) == s


def test_a_fill_without_thickness_is_refused():
    with pytest.raises(ValueError, match="silhouette_fill is a sheet's half-thickness"):
        InferenceSettings(silhouette_fill=0.0)


def test_flip_average_in_one_call_is_bit_for_bit_the_two_calls(weights):
    """The flip average queries the image's and the mirror's features as one batch of 2, with
    fmap, slices and image merged into one sampled map: the same values as two plain calls
    (through ``query`` itself; the folded decoder agrees to rounding, test_fused_decoder)."""
    folded = weights(InferenceSettings(flip_average=True, feature_sampling="bicubic"))
    pred = NetworkPredictor(CPU, folded.weights, fused=False)
    im = image()
    feats, mirrored = pred.encode(im), pred.encode(np.ascontiguousarray(im[:, ::-1]))
    pts = torch.rand(3000, 3) - 0.5
    model = pred.model
    plain = model.query(feats, pts[None], sampling="bicubic")[0]
    mirror = model.query(mirrored, (pts * torch.tensor(MIRROR_X))[None], sampling="bicubic")[0]
    assert torch.equal(model.query(merge_maps(feats), pts[None], sampling="bicubic")[0], plain)
    assert torch.equal(pred.predict(im).sdf(pts), 0.5 * (plain + mirror))


def test_with_the_flip_average_the_plain_network_searches_the_coarse_levels(weights):
    """The prediction's search_sdf is the network on the image alone, cut and lowered as the
    flip-averaged sdf is; without the flip average, or with plain_search off (the default),
    there is none."""
    settings = InferenceSettings(flip_average=True, depth_clip=0.1, surface_offset=0.01)
    off = weights(settings)
    pred = NetworkPredictor(CPU, off.weights, plain_search=True)
    im = image()
    pts = torch.rand(2000, 3) - 0.5
    p = pred.predict(im)
    assert p.search_sdf is not None
    plain = pred.predict(im, flip_average=False)
    assert plain.search_sdf is None
    assert torch.equal(p.search_sdf(pts), plain.sdf(pts))
    assert not torch.allclose(p.sdf(pts), plain.sdf(pts), atol=1e-3)
    assert off.predict(im).search_sdf is None
    assert torch.equal(off.predict(im).sdf(pts), p.sdf(pts))


def test_a_gpu_takes_large_calls_and_a_cpu_small_ones():
    """Kernel launches dominate a 2048-point call on a GPU; on a CPU small calls run side by side
    on the threads (chunks.py). torch.device("cuda") names the device without needing one."""
    assert query_chunk(CPU) == QUERY_CHUNK
    assert query_chunk(torch.device("cuda")) == DEVICE_QUERY_CHUNK > 16 * QUERY_CHUNK


@pytest.mark.parametrize("flip", [False, True])
def test_the_sdf_does_not_depend_on_the_chunk_size(weights, flip, monkeypatch):
    """A GPU's large calls give the values the CPU's small ones do, a chunk boundary included."""
    steps: list[int] = []

    def spy(fn, points, step):
        steps.append(step)
        return map_chunks(fn, points, step)

    monkeypatch.setattr(network_module, "map_chunks", spy)
    pred = weights(InferenceSettings(flip_average=flip))
    pts = torch.rand(2 * QUERY_CHUNK + 333, 3) - 0.5
    small = pred.predict(image()).sdf(pts)
    pred.query_chunk = DEVICE_QUERY_CHUNK
    large = pred.predict(image()).sdf(pts)
    pred.query_chunk = 1000  # uneven chunks, the last one short
    uneven = pred.predict(image()).sdf(pts)
    pairs = 2 if flip else 1  # a flip-averaged call holds each point twice
    assert steps == [QUERY_CHUNK // pairs, DEVICE_QUERY_CHUNK // pairs, 1000 // pairs]
    assert small.shape == large.shape == (len(pts),)
    torch.testing.assert_close(large, small, atol=1e-5, rtol=0)
    torch.testing.assert_close(uneven, small, atol=1e-5, rtol=0)
