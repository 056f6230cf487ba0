"""Slice3D-compact: shapes, pixel alignment of point features, safetensors round trip, predictor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.geometry import (
    CAMERA_DISTANCE,
    ndc_to_pixel,
    pixel_rays,
    project_ndc,
    slabs_for_bounds,
)
from backend.model import (
    ModelConfig,
    Slice3DCompact,
    load_weights,
    project_points,
    read_metadata,
    save_weights,
)
from backend.model.network import attend_one_query, sample_maps, slab_coords

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def tiny(**kw) -> Slice3DCompact:
    torch.manual_seed(0)
    return Slice3DCompact(ModelConfig.from_dict({**TINY, **kw})).eval()


@pytest.mark.parametrize("slices", [True, False])
@pytest.mark.parametrize("mixer", ["cross", "self", "mlp"])
def test_shapes(slices, mixer):
    model = tiny(slices=slices, mixer=mixer)
    img = torch.rand(2, 4, 128, 128)
    pts = torch.rand(2, 37, 3) - 0.5
    with torch.no_grad():
        sdf, feats = model(img, pts)
    assert sdf.shape == (2, 37)
    assert feats["fmap"].shape == (2, 12 * 2, 64, 64)
    assert feats["bbox"].shape == (2, 2, 3)
    assert torch.all(feats["bbox"][:, 1] > feats["bbox"][:, 0])
    assert ("slices" in feats) == slices
    if slices:
        assert feats["slices"].shape == (2, 24, 64, 64)


def test_point_projects_where_the_camera_says():
    """A point on the ray through pixel (i, j) samples exactly that pixel's feature."""
    size = 64
    rays = pixel_rays(size)
    for i, j in [(5, 9), (32, 32), (60, 3), (0, 63)]:
        fmap = torch.zeros(1, 1, size, size)
        fmap[0, 0, i, j] = 1.0
        for depth in (0.8, 1.2, 1.6):
            p = np.array([0.0, 0.0, CAMERA_DISTANCE]) + depth * rays[i, j]
            ndc, _ = project_ndc(p[None])
            col, row = ndc_to_pixel(ndc, size)[0]
            assert (int(row), int(col)) == (i, j)
            ours = project_points(torch.tensor(p[None], dtype=torch.float64))
            np.testing.assert_allclose(ours.numpy(), ndc, atol=1e-9)
            val = sample_maps(fmap, ours[None].float())
            assert val.shape == (1, 1, 1)
            assert float(val) == pytest.approx(1.0, abs=1e-4)
            assert float(sample_maps(fmap, ours[None].float(), "bicubic")) == pytest.approx(
                1.0, abs=1e-4)  # bicubic keeps the value at the texel centre
            # half a pixel to the right lands between pixel j and j+1
            if 0 < j < size - 2:
                q = ours.clone()
                q[0, 0] += 1.0 / size
                assert float(sample_maps(fmap, q[None].float())) == pytest.approx(0.5, abs=1e-4)
                # Keys' cubic (a = -0.75, as grid_sample) weighs a neighbour half a texel away
                # by 0.59375
                bicubic = float(sample_maps(fmap, q[None].float(), "bicubic"))
                assert bicubic == pytest.approx(0.59375, abs=1e-4)


def test_query_uses_features_at_the_projection():
    """Changing the decoder features away from a point's pixel leaves its SDF unchanged."""
    model = tiny()
    img = torch.rand(1, 4, 128, 128)
    with torch.no_grad():
        feats = model.encode(img)
        p = torch.tensor([[[0.1, -0.05, 0.2]]])
        base = model.query(feats, p)
        col, row = ((project_points(p)[0, 0] + 1) * 0.5 * 64).tolist()
        far = {k: v.clone() for k, v in feats.items()}
        far["fmap"][..., int(row) + 4 :, :] += 5.0
        far["ctx"][..., (int(row) + 4) // 2 :, :] += 5.0
        far["slices"][..., int(row) + 4 :, :] = 0.0
        assert torch.allclose(model.query(far, p), base, atol=1e-6)
        near = {k: v.clone() for k, v in feats.items()}
        near["fmap"][..., int(row), int(col)] += 5.0
        assert not torch.allclose(model.query(near, p), base, atol=1e-4)


def test_folded_attention_equals_attention_over_projected_keys_and_values():
    """The cross mixer's shortcut must give standard attention's values and gradients."""
    torch.manual_seed(1)
    m, t, d, heads = 64, 12, 32, 4
    kv = torch.nn.Linear(d, 2 * d)
    with torch.no_grad():
        kv.bias.normal_()  # a key bias that did not cancel would show here
    q = torch.randn(m, heads, d // heads, requires_grad=True)
    tokens = torch.randn(m, t, d, requires_grad=True)

    k, v = kv(tokens).view(m, t, 2, heads, d // heads).permute(2, 0, 3, 1, 4).unbind(0)
    reference = torch.nn.functional.scaled_dot_product_attention(q[:, :, None], k, v)[:, :, 0]
    folded = attend_one_query(q, tokens, kv, heads)
    assert folded.shape == (m, heads, d // heads)
    torch.testing.assert_close(folded, reference, rtol=1e-5, atol=1e-5)

    grads_ref = torch.autograd.grad(reference.square().sum(), (q, tokens, kv.weight, kv.bias))
    grads = torch.autograd.grad(folded.square().sum(), (q, tokens, kv.weight, kv.bias))
    for got, want in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_slab_coords_match_geometry_contract():
    bmin, bmax = np.array([-0.3, -0.2, -0.1]), np.array([0.25, 0.3, 0.35])
    slabs = slabs_for_bounds(bmin, bmax)
    bbox = torch.tensor(np.stack([bmin, bmax])[None], dtype=torch.float64)
    for s in slabs:
        for frac, expect in ((0.0, -1.0), (0.5, 0.0), (1.0, 1.0)):
            p = np.zeros(3)
            p[s.axis] = s.lo + frac * (s.hi - s.lo)
            t = slab_coords(torch.tensor(p[None, None]), bbox)[0, 0]
            k = {"X": 0, "Y": 4, "Z": 8}[s.name[0]] + s.index
            assert float(t[k]) == pytest.approx(expect, abs=1e-9)


def test_global_code_reaches_every_point():
    """With ``global_code`` the SDF at a point depends on image content far from its projection."""
    model = tiny(global_code=True)
    with torch.no_grad():
        for p in model.coord_tok.parameters():
            p.normal_(0, 0.5)
    img = torch.rand(1, 4, 128, 128)
    pts = torch.tensor([[[0.0, 0.0, 0.0]]])
    with torch.no_grad():
        feats = model.encode(img)
        assert feats["global"].shape == (1, 16)
        base = model.query(feats, pts)
        moved = dict(feats, **{"global": feats["global"] + 1.0})
        assert not torch.allclose(model.query(moved, pts), base)
        plain = tiny()
        assert "global" in plain.encode(img)  # computed either way, used only when asked


def test_bilinear_upsampling_smooths_the_decoder_maps():
    """Same weights, two decoders: nearest leaves 2x2 blocks in the 64 px maps, bilinear not."""
    x = torch.rand(1, 3, 8, 8)
    blocky, smooth = tiny()._up(x), tiny(upsample="bilinear")._up(x)
    assert blocky.shape == smooth.shape == (1, 3, 16, 16)
    assert torch.equal(blocky[..., 0::2, :], blocky[..., 1::2, :])
    assert not torch.allclose(smooth[..., 0::2, :], smooth[..., 1::2, :])
    img = torch.rand(1, 4, 128, 128)
    with torch.no_grad():
        assert not torch.allclose(tiny().encode(img)["fmap"],
                                  tiny(upsample="bilinear").encode(img)["fmap"])
    with pytest.raises(ValueError, match="unknown upsampling 'cubic'"):
        tiny(upsample="cubic")


@pytest.mark.parametrize("slices", [True, False])
@pytest.mark.parametrize("extra", [{}, {"global_code": True, "fourier": 3},
                                   {"upsample": "bilinear"}])
def test_safetensors_round_trip(tmp_path, slices, extra):
    model = tiny(slices=slices, **extra)
    path = save_weights(model, tmp_path / "w.safetensors", dtype=torch.float32, info={"step": 3})
    assert path.read_bytes()[:8] != b"\x80\x04\x95"  # not a pickle
    meta = read_metadata(path)
    assert meta["format"] == "slice3d-compact/1"
    loaded = load_weights(path)
    assert loaded.config == model.config
    img, pts = torch.rand(1, 4, 128, 128), torch.rand(1, 50, 3) - 0.5
    with torch.no_grad():
        a, fa = model(img, pts)
        b, fb = loaded(img, pts)
    assert torch.equal(a, b)
    half = load_weights(save_weights(model, tmp_path / "h.safetensors"))  # fp16 default
    assert (tmp_path / "h.safetensors").stat().st_size < path.stat().st_size * 0.6
    with torch.no_grad():
        c, _ = half(img, pts)
    assert torch.allclose(a, c, atol=5e-2)


def test_network_predictor_caches_image_features(tmp_path):
    from backend.predictors.network import NetworkPredictor

    path = save_weights(tiny(), tmp_path / "w.safetensors")
    pred = NetworkPredictor(torch.device("cpu"), path)
    assert not pred.is_baseline and pred.weights_sha256 and len(pred.weights_sha256) == 64
    calls = {"n": 0}
    orig = pred.model.encode

    def counting(x):
        calls["n"] += 1
        return orig(x)

    pred.model.encode = counting
    image = np.ones((128, 128, 4), np.float32)
    image[40:90, 50:80, :3] = 0.3
    image[..., 3] = 0
    image[40:90, 50:80, 3] = 1
    p = pred.predict(image)
    assert p.slices.shape == (12, 128, 128, 4) and p.slices.dtype == np.uint8
    assert [s.name for s in p.slabs][:5] == ["X1", "X2", "X3", "X4", "Y1"]
    for _ in range(3):
        out = p.sdf(torch.rand(1000, 3) - 0.5)
        assert out.shape == (1000,) and torch.isfinite(out).all()
    assert calls["n"] == 1
