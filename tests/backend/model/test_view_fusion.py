"""backend.model.view_fusion: extra views' features joined to the coordinate token (issue 35)."""

from __future__ import annotations

import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, load_weights, save_weights
from backend.model.view_fusion import FUSIONS, ExtraViews, ViewAttention, moved_points

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32,
        "view_width": 8}
KINDS = [kind for kind in FUSIONS if kind != "none"]


def tiny(**kw) -> Slice3DCompact:
    torch.manual_seed(0)
    return Slice3DCompact(ModelConfig.from_dict({**TINY, **kw})).eval()


def turn(degrees: float) -> torch.Tensor:
    a = torch.tensor(degrees).deg2rad()
    t = torch.eye(4)
    t[0, 0], t[0, 2], t[2, 0], t[2, 2] = a.cos(), -a.sin(), a.sin(), a.cos()
    return t


def extra(model: Slice3DCompact, images: torch.Tensor, transforms: torch.Tensor,
          present: torch.Tensor) -> ExtraViews:
    """images [B,K,4,S,S], transforms [B,K,4,4], present [B,K]."""
    b, k = images.shape[:2]
    with torch.no_grad():
        feats = model.encode(images.flatten(0, 1))
    return ExtraViews(feats, transforms, present)


def setup(b: int = 2, k: int = 3, n: int = 50):
    g = torch.Generator().manual_seed(1)
    image = torch.rand(b, 4, 128, 128, generator=g)
    others = torch.rand(b, k, 4, 128, 128, generator=g)
    transforms = torch.stack([torch.stack([turn(40.0 * (j + 1) + i) for j in range(k)])
                              for i in range(b)])
    points = torch.rand(b, n, 3, generator=g) - 0.5
    return image, others, transforms, points


@pytest.mark.parametrize("kind", KINDS)
@torch.no_grad()
def test_new_fusion_weights_answer_exactly_as_the_single_view_network(kind):
    single, fused = tiny(), tiny(view_fusion=kind)
    fused.load_state_dict(single.state_dict(), strict=False)
    image, others, transforms, points = setup()
    feats = fused.encode(image)
    views = extra(fused, others, transforms, torch.ones(2, 3, dtype=torch.bool))
    plain = single.query(single.encode(image), points)
    assert torch.equal(fused.query(feats, points), plain)
    assert torch.equal(fused.query(feats, points, views=views), plain)  # gate at zero


@pytest.mark.parametrize("kind", KINDS)
@torch.no_grad()
def test_with_an_open_gate_the_views_count_but_padding_and_order_do_not(kind):
    model = tiny(view_fusion=kind)
    assert model.view_fusion is not None
    model.view_fusion.gate.fill_(1.0)
    image, others, transforms, points = setup()
    feats = model.encode(image)
    alone = model.query(feats, points)
    everyone = torch.ones(2, 3, dtype=torch.bool)
    with_views = model.query(feats, points, views=extra(model, others, transforms, everyone))
    assert not torch.allclose(with_views, alone, atol=1e-4)
    # no view present: nothing is added, whatever the padding holds
    nobody = torch.zeros(2, 3, dtype=torch.bool)
    assert torch.equal(model.query(feats, points, views=extra(model, others, transforms, nobody)),
                       alone)
    # a padded (absent) view changes nothing: two real views + junk == the two alone
    two = torch.tensor([[True, True, False]] * 2)
    junk = others.clone()
    junk[:, 2] = torch.rand_like(junk[:, 2])
    padded = model.query(feats, points, views=extra(model, junk, transforms, two))
    only_two = model.query(feats, points, views=extra(
        model, others[:, :2], transforms[:, :2], torch.ones(2, 2, dtype=torch.bool)))
    assert torch.allclose(padded, only_two, atol=1e-6)
    # the views are a set: their order does not matter
    order = [2, 0, 1]
    shuffled = model.query(feats, points, views=extra(model, others[:, order],
                                                      transforms[:, order], everyone))
    assert torch.allclose(shuffled, with_views, atol=1e-5)


@torch.no_grad()
def test_a_view_is_read_at_the_point_moved_into_its_frame():
    model = tiny(view_fusion="meanmax")
    image, _, transforms, points = setup(k=1)
    moved = moved_points(points, transforms)  # [B,1,N,3]
    expected = points @ transforms[:, 0, :3, :3].transpose(1, 2) + transforms[:, 0, None, :3, 3]
    assert torch.allclose(moved[:, 0], expected, atol=1e-6)
    # the same photo as an extra view at the identity reads what the reference reads
    feats = model.encode(image)
    reading = model.view_reading(feats, points)
    same = model.view_reading(feats, moved_points(points, torch.eye(4).expand(2, 1, 4, 4))[:, 0])
    assert torch.equal(reading, same)
    assert reading.shape == (2, points.shape[1], model.view_fusion.per_view[1].in_features)


@pytest.mark.parametrize("kind", KINDS)
def test_the_fusion_travels_in_the_weights_file(tmp_path, kind):
    model = tiny(view_fusion=kind)
    assert model.view_fusion is not None
    with torch.no_grad():
        model.view_fusion.gate.fill_(0.5)
    back = load_weights(save_weights(model, tmp_path / "w.safetensors", dtype=torch.float32))
    assert back.config.view_fusion == kind and back.view_fusion is not None
    assert torch.equal(back.view_fusion.gate, model.view_fusion.gate)
    assert tiny().config.view_fusion == "none" and tiny().view_fusion is None


def test_an_unknown_fusion_and_views_without_a_fusion_are_refused():
    with pytest.raises(ValueError, match="unknown view_fusion 'transformer'"):
        tiny(view_fusion="transformer")
    model = tiny()
    image, others, transforms, points = setup(k=1)
    views = extra(model, others, transforms, torch.ones(2, 1, dtype=torch.bool))
    with pytest.raises(ValueError, match="has no view fusion"):
        model.query(model.encode(image), points, views=views)


@torch.no_grad()
def test_attention_weighs_the_views_by_what_the_point_asks():
    """Keys that say nothing give the mean of the views there; keys that differ let the point's
    own token choose the mix, which the mean and max cannot."""
    torch.manual_seed(0)
    fusion = ViewAttention(reading=6, width=8, d_model=4, heads=2)
    fusion.gate.fill_(1.0)
    readings = torch.randn(1, 3, 6)
    values = fusion.value(fusion.per_view(readings))[0]  # [3,8]
    everyone, two = torch.ones(1, 3, dtype=torch.bool), torch.tensor([[True, False, True]])
    asks = torch.randn(2, 1, 4) * 50.0
    plain = ViewAttention(reading=6, width=8, d_model=4, heads=2)
    plain.load_state_dict(fusion.state_dict())
    plain.key.weight.zero_()
    plain.key.bias.zero_()
    for ask in asks:
        assert torch.allclose(plain(readings, everyone, ask[None])[0, 0],
                              fusion.merge(values.mean(0)), atol=1e-5)
        assert torch.allclose(plain(readings, two, ask[None])[0, 0],
                              fusion.merge(values[[0, 2]].mean(0)), atol=1e-5)
    first, second = (fusion(readings, everyone, ask[None])[0, 0] for ask in asks)
    spread = (fusion.merge(values) - fusion.merge(values.mean(0))).abs().max()
    assert (first - second).abs().max() > 0.2 * spread
    with pytest.raises(ValueError, match="coordinate tokens"):
        fusion(readings, everyone)
