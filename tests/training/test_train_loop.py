"""Training: data loading in the shard format, one step lowers the loss, exact resume, outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from slice3d_tiny import make_tiny_dataset

from backend.model import ModelConfig, Slice3DCompact, load_weights
from training import train as T

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("shards"))


def tiny_cfg(**kw) -> dict:
    cfg = dict(T.DEFAULTS)
    cfg.update(
        {
            "name": "tiny",
            "model": TINY,
            "batch_size": 4,
            "points_per_shape": 64,
            "threads": 1,
            "log_every": 1,
            "eval_every": 2,
            "val_samples": 4,
            "warmup_steps": 1,
            "max_steps": 4,
            "ckpt_minutes": 0.0,
        }
    )
    cfg.update(kw)
    return cfg


def test_load_split(tiny_data):
    d = T.load_split(tiny_data, "train", verbose=False)
    assert len(d) == 8
    assert d.image.shape == (8, 128, 128, 4) and d.image.dtype == np.uint8
    assert d.slices.shape == (8, 12, 2, 64, 64)
    assert d.points.shape == (8, 512, 3) and d.sdf.shape == (8, 512)
    # framing matches the backend: background composited on white, alpha kept
    assert d.image[0, 0, 0].tolist() == [255, 255, 255, 0]


def test_a_shape_shared_by_two_data_folders_is_read_once(tiny_data):
    d = T.load_split(tiny_data, "train", verbose=False)
    extra = T.ShardSet(**{k: getattr(d, k)[:3].copy() for k in T.ShardSet.__dataclass_fields__})
    extra.shape_id = extra.shape_id.astype("<U64")
    extra.shape_id[2] = "a-shape-only-the-second-folder-has"
    both = T.concat_sets([d, extra])
    assert len(both) == len(d) + 1
    assert both.shape_id[-1] == "a-shape-only-the-second-folder-has"
    np.testing.assert_array_equal(both.bbox[-1], d.bbox[2])
    assert len(T.concat_sets([d, extra, extra])) == len(d) + 1


def test_batches_are_a_function_of_step():
    a = [T.batch_indices(10, s, 4, 0) for s in range(6)]
    b = [T.batch_indices(10, s, 4, 0) for s in range(6)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    first_epoch = np.concatenate(a)[:10]
    assert sorted(first_epoch.tolist()) == list(range(10))


def test_source_weights_repeat_samples_per_epoch():
    sources = np.array(["0ad", "procedural", "0ad", "cgal"])
    assert T.sampling_order(sources, {}).tolist() == [0, 1, 2, 3]
    order = T.sampling_order(sources, {"0ad": 3, "cgal": 2})
    assert np.bincount(order).tolist() == [3, 1, 3, 2]
    first_epoch = order[np.concatenate([T.batch_indices(len(order), s, 3, 0) for s in range(3)])]
    assert np.bincount(first_epoch, minlength=4).tolist() == [3, 1, 3, 2]


@pytest.mark.parametrize(("weights", "message"), [
    ({"0ad": 0}, "whole number >= 1"),
    ({"0ad": 1.5}, "whole number >= 1"),
    ({"Oad": 2}, "not in the training data"),
])
def test_bad_source_weights_are_refused_with_the_reason(weights, message):
    with pytest.raises(ValueError, match=message):
        T.sampling_order(np.array(["0ad", "cgal"]), weights)


def test_a_bad_weight_stops_the_run_before_the_data_loads(tmp_path):
    cfg = tiny_cfg(data=str(tmp_path / "no_such_data"), source_weights={"0ad": -1})
    with pytest.raises(ValueError, match="whole number"):  # not FileNotFoundError: checked first
        T.train(cfg, run_root=tmp_path, mirror_root=None)


@pytest.mark.parametrize(("slices", "encoder"),
                         [(True, "unet"), (False, "unet"), (True, "mobilenetv2")])
def test_one_step_lowers_the_loss(tiny_data, slices, encoder):
    torch.manual_seed(0)
    cfg = tiny_cfg()
    data = T.load_split(tiny_data, "train", verbose=False)
    model = Slice3DCompact(ModelConfig.from_dict({**TINY, "slices": slices, "encoder": encoder}))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = T.make_batch(data, np.arange(4), 128, np.random.default_rng(0), torch.device("cpu"))
    ac = T.make_autocast("none", torch.device("cpu"))
    before = T.compute_loss(model, batch, cfg, ac)
    assert ("slice" in before) == slices
    opt.zero_grad()
    before["loss"].backward()
    opt.step()
    after = T.compute_loss(model, batch, cfg, ac)
    assert float(after["loss"].detach()) < float(before["loss"].detach())


def test_the_loss_reads_point_features_with_the_configured_sampling(tiny_data):
    torch.manual_seed(0)
    data = T.load_split(tiny_data, "train", verbose=False)
    model = Slice3DCompact(ModelConfig.from_dict(TINY)).eval()
    batch = T.make_batch(data, np.arange(4), 128, np.random.default_rng(0), torch.device("cpu"))
    ac = T.make_autocast("none", torch.device("cpu"))
    c = T.DEFAULTS["sdf_clamp"]
    with torch.no_grad():
        feats = model.encode(batch["image"])
        preds = {}
        for sampling in ("bilinear", "bicubic"):
            loss = T.compute_loss(model, batch, tiny_cfg(feature_sampling=sampling), ac)["sdf"]
            preds[sampling] = model.query(feats, batch["points"], sampling=sampling).clamp(-c, c)
            by_hand = (preds[sampling] - batch["sdf"].clamp(-c, c)).abs().mean()
            assert float(loss) == pytest.approx(float(by_hand), rel=1e-6)
    assert float((preds["bicubic"] - preds["bilinear"]).abs().max()) > 1e-4


def test_augmentation_changes_the_object_colour_only():
    rng = np.random.default_rng(0)
    image = torch.ones(6, 4, 32, 32)
    image[:, 3] = 0.0
    image[:, 3, 8:24, 8:24] = 1.0
    image[:, :3, 8:24, 8:24] = torch.rand(6, 3, 16, 16) * 0.5 + 0.25
    out = T.augment_images(image.clone(), np.random.default_rng(1), 1.0)
    again = T.augment_images(image.clone(), np.random.default_rng(1), 1.0)
    assert torch.equal(out, again)  # a function of the batch rng, so resume stays exact
    assert torch.equal(out[:, 3], image[:, 3])  # the silhouette (and so every target) stays
    background = image[:, 3:] == 0
    assert torch.all(out[:, :3][background.expand(-1, 3, -1, -1)] == 1.0)
    assert out.min() >= 0 and out.max() <= 1
    inside = (out[:, :3, 8:24, 8:24] - image[:, :3, 8:24, 8:24]).abs().mean(dim=(1, 2, 3))
    assert torch.all(inside > 0.005)  # every image changed
    assert torch.equal(T.augment_images(image.clone(), rng, 0.0)[:, 3], image[:, 3])


def test_augmentation_adds_sensor_noise_on_the_images_device():
    image = torch.ones(4, 4, 32, 32)
    image[:, :3, 8:24, 8:24] = 0.5  # a flat grey object: only the noise can vary its pixels
    out = T.augment_images(image, np.random.default_rng(3), 1.0)
    assert out.device == image.device
    assert torch.all(out[:, :3, 10:22, 10:22].flatten(1).std(dim=1) > 1e-4)


def test_slice_alpha_dice_hand_computed():
    target = torch.zeros(1, 24, 4, 4)
    target[0, 1, :2, :2] = 1.0  # slice 1 alpha: 4 pixels
    assert T.slice_alpha_dice(target, target).item() == pytest.approx(0.0, abs=1e-6)
    empty = torch.zeros_like(target)
    # slice 1 scores (0 + 1) / (0 + 4 + 1) = 0.2, the 11 empty slices score 1
    assert T.slice_alpha_dice(empty, target).item() == pytest.approx(1 - (0.2 + 11) / 12)
    grey_only = target.clone()
    grey_only[0, 0] = 1.0  # grey channels do not count
    assert T.slice_alpha_dice(grey_only, target).item() == pytest.approx(0.0, abs=1e-6)


def test_train_resume_is_exact(tiny_data, tmp_path):
    cfg = tiny_cfg(data=str(tiny_data), augment=1.0, w_slice_dice=0.2, source_weights={"sphere": 2})
    straight = T.train(dict(cfg, name="a"), run_root=tmp_path, mirror_root=tmp_path / "mirror")
    assert straight["step"] == 4
    run = tmp_path / "a"
    for f in ("ckpt.pt", "model.safetensors", "log.jsonl", "loss.png", "config.json"):
        assert (run / f).is_file()
        assert (tmp_path / "mirror" / "a" / f).is_file()
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert {r["kind"] for r in rows} == {"train", "val"}

    T.train(dict(cfg, name="b", max_steps=2), run_root=tmp_path, mirror_root=None)
    resumed = T.train(dict(cfg, name="b"), resume=True, run_root=tmp_path, mirror_root=None)
    assert resumed["step"] == 4
    steps = [json.loads(x)["step"] for x in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    assert 1 in steps and 4 in steps  # the resumed run appends to the log of the first part
    a = load_weights(run / "model.safetensors").state_dict()
    b = load_weights(tmp_path / "b" / "model.safetensors").state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_time_budget_stops_cleanly(tiny_data, tmp_path):
    cfg = tiny_cfg(data=str(tiny_data), max_steps=10_000)
    out = T.train(cfg, hours=1e-9, run_root=tmp_path, mirror_root=None)
    assert out["step"] == 0
    assert (tmp_path / "tiny" / "model.safetensors").is_file()


def test_every_shipped_config_loads_and_a_misspelt_key_is_refused(tmp_path):
    configs = sorted((Path(T.__file__).parent / "configs").rglob("*.json"))
    assert len(configs) >= 4
    for path in configs:
        assert T.load_config(path)["name"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "snapshot_form": 100}))
    with pytest.raises(ValueError, match="snapshot_form"):
        T.load_config(bad)
    with pytest.raises(SystemExit, match="error: .*unknown config keys"):
        T.main(["--config", str(bad)])
    with pytest.raises(SystemExit, match="error: "):
        T.main(["--config", str(tmp_path / "missing.json")])
    bad.write_text(json.dumps({"name": "x", "feature_sampling": "nearest"}))
    with pytest.raises(SystemExit, match="error: .*feature_sampling must be one of"):
        T.main(["--config", str(bad)])
    bad.write_text(json.dumps({"name": "x", "source_weights": {"0ad": 0.5}}))
    with pytest.raises(SystemExit, match=r"error: source_weights\['0ad'\] must be a whole number"):
        T.main(["--config", str(bad)])


def test_snapshots_keep_every_checkpoint_from_the_chosen_step(tiny_data, tmp_path):
    cfg = tiny_cfg(data=str(tiny_data), snapshot_from=3)  # a checkpoint after every step
    T.train(cfg, run_root=tmp_path, mirror_root=None)
    snaps = sorted(p.name for p in (tmp_path / "tiny" / "snapshots").iterdir())
    assert snaps == ["model_step000003.safetensors", "model_step000004.safetensors"]
    last = load_weights(tmp_path / "tiny" / "snapshots" / snaps[-1]).state_dict()
    final = load_weights(tmp_path / "tiny" / "model.safetensors").state_dict()
    third = load_weights(tmp_path / "tiny" / "snapshots" / snaps[0]).state_dict()
    assert all(torch.equal(last[k], final[k]) for k in final)
    assert not all(torch.equal(third[k], final[k]) for k in final)


def test_init_weights_starts_a_run_from_trained_weights(tiny_data, tmp_path):
    from backend.model import save_weights

    torch.manual_seed(3)
    donor = Slice3DCompact(ModelConfig.from_dict(TINY))
    init = save_weights(donor, tmp_path / "donor.safetensors", dtype=torch.float32)
    cfg = tiny_cfg(data=str(tiny_data), max_steps=10_000, init_weights=str(init),
                   model={**TINY, "global_code": True})
    T.train(cfg, hours=1e-9, run_root=tmp_path, mirror_root=None)  # stops before any step
    got = load_weights(tmp_path / "tiny" / "model.safetensors").state_dict()
    assert got["coord_tok.0.weight"].shape[1] > donor.state_dict()["coord_tok.0.weight"].shape[1]
    for k, v in donor.state_dict().items():
        if k != "coord_tok.0.weight":
            assert torch.equal(got[k], v), k


def test_init_encoder_starts_a_run_from_imagenet_trunk_weights(tiny_data, tmp_path):
    from safetensors.torch import save_file

    from backend.model.mobilenet import MobileNetV2Trunk

    torch.manual_seed(4)
    trunk = MobileNetV2Trunk().state_dict()
    save_file(trunk, str(tmp_path / "trunk.safetensors"))
    cfg = tiny_cfg(data=str(tiny_data), max_steps=10_000,
                   init_encoder=str(tmp_path / "trunk.safetensors"),
                   model={**TINY, "encoder": "mobilenetv2"})
    T.train(cfg, hours=1e-9, run_root=tmp_path, mirror_root=None)  # stops before any step
    got = load_weights(tmp_path / "tiny" / "model.safetensors").state_dict()
    for k, v in trunk.items():
        assert torch.equal(got[f"trunk.{k}"], v), k
