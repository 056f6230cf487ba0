"""training.oracle_slices: the decoder fed its own, the true, and another image's slices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from slice3d_tiny import make_tiny_dataset

from backend.model import ModelConfig, Slice3DCompact
from training import oracle_slices as O
from training.dataset import load_split, make_batch

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


@pytest.fixture(scope="module")
def val(tmp_path_factory):
    return load_split(make_tiny_dataset(tmp_path_factory.mktemp("shards")), "val", verbose=False)


def build(**kw) -> Slice3DCompact:
    torch.manual_seed(0)
    return Slice3DCompact(ModelConfig.from_dict({**TINY, **kw})).eval()


def test_point_errors_by_hand():
    sdf = torch.tensor([[-0.01, 0.01, 0.5, -0.5]])
    pred = torch.tensor([[0.01, 0.01, 0.05, -0.2]])  # one sign wrong, near the surface
    e = O.point_errors(pred, sdf, clamp=0.1)
    assert e["sdf_l1"][0] == pytest.approx((0.02 + 0 + 0.05 + 0) / 4)
    assert e["sign_acc"][0] == pytest.approx(0.75)
    assert e["near_sign_acc"][0] == pytest.approx(0.5)


def test_variants_feed_what_they_name(val):
    model = build()
    batch = make_batch(val, np.arange(3), 32, np.random.default_rng(0), torch.device("cpu"))
    encoded = model.encode(batch["image"])
    own = O.variant_sdf(model, encoded, batch, "own", "bilinear")
    assert torch.allclose(own, model(batch["image"], batch["points"])[0])
    true = O.variant_sdf(model, encoded, batch, "true", "bilinear")
    feats = model.encode(batch["image"])
    feats["slices"] = batch["slices"]
    by_hand = model.query(feats, batch["points"], bbox=batch["bbox"])
    assert torch.allclose(true, by_hand)
    own_slices_true_box = model.query(model.encode(batch["image"]), batch["points"],
                                      bbox=batch["bbox"])
    true_box = O.variant_sdf(model, encoded, batch, "true_box", "bilinear")
    assert torch.allclose(true_box, own_slices_true_box)
    assert not torch.allclose(true, own)
    assert not torch.allclose(O.variant_sdf(model, encoded, batch, "other", "bilinear"), own)


def test_table_covers_every_sample_and_source(val):
    n = len(val)
    assert n >= 3 and n % (n - 1) == 1  # the batches of n - 1 would leave one sample over
    result = O.oracle_table(build(), val, n_points=32, batch_size=n - 1, sampling="bilinear")
    assert result["samples"] == n
    assert set(result["variants"]) == set(O.VARIANTS)
    for r in result["variants"].values():
        assert 0 <= r["sign_acc"] <= 1 and r["sdf_l1"] > 0
        assert set(r["by_source"]) == set(val.source.tolist())
    assert "| true |" in O.format_table(result)


def test_the_no_slice_network_is_refused(val):
    with pytest.raises(ValueError, match="no slice branch"):
        O.oracle_table(build(slices=False), val)
