"""training.train: the loop. Exact resume, outputs, time budget, snapshots, warm starts, and the
guard that keeps a run out of backend/weights/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from slice3d_tiny import TINY, tiny_cfg

from backend.model import ModelConfig, Slice3DCompact, load_weights
from training import train as T
from training.config import load_config


def test_a_bad_weight_stops_the_run_before_the_data_loads(tmp_path):
    cfg = tiny_cfg(data=str(tmp_path / "no_such_data"), source_weights={"0ad": -1})
    with pytest.raises(ValueError, match="whole number"):  # not FileNotFoundError: checked first
        T.train(cfg, run_root=tmp_path, mirror_root=None)


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
        assert load_config(path)["name"]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "snapshot_form": 100}))
    with pytest.raises(ValueError, match="snapshot_form"):
        load_config(bad)
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


def test_a_run_never_writes_or_reads_backend_weights(tiny_data, tmp_path):
    """Only training.ship writes the shipped file; a run that read it would not rerun."""
    shipped_dir = Path(T.__file__).resolve().parent.parent / "backend" / "weights"
    before = {p.name: p.read_bytes() for p in shipped_dir.iterdir() if p.is_file()}
    cfg = tiny_cfg(data=str(tiny_data))
    with pytest.raises(ValueError, match="the run folder .* is inside backend/weights"):
        T.train(cfg, run_root=shipped_dir, mirror_root=None)
    with pytest.raises(ValueError, match="inside backend/weights"):  # a name that climbs out
        T.train(dict(cfg, name="../backend/weights/x"), run_root=shipped_dir.parent.parent / "runs",
                mirror_root=None)
    with pytest.raises(ValueError, match="the mirror folder .* is inside backend/weights"):
        T.train(cfg, run_root=tmp_path, mirror_root=shipped_dir)
    with pytest.raises(ValueError, match="init_weights .* is inside backend/weights"):
        T.train(dict(cfg, init_weights="backend/weights/slice3d_compact.safetensors"),
                run_root=tmp_path, mirror_root=None)
    assert not (tmp_path / "tiny").exists()  # refused before anything was written
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"name": "x", "init_weights": str(shipped_dir / "a.safetensors")}))
    with pytest.raises(SystemExit, match="error: init_weights .* inside backend/weights"):
        T.main(["--config", str(bad)])
    after = {p.name: p.read_bytes() for p in shipped_dir.iterdir() if p.is_file()}
    assert after == before


def test_stop_at_ends_early_on_the_full_schedule(tiny_data, tmp_path):
    cfg = tiny_cfg(data=str(tiny_data), max_steps=8, log_every=1)
    out = T.train(cfg, run_root=tmp_path, mirror_root=None, stop_at=3)
    assert out["step"] == 3
    rows = [json.loads(x) for x in (tmp_path / "tiny" / "log.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in rows if r["kind"] == "train"]
    assert lrs == [pytest.approx(T.lr_at(s, cfg)) for s in range(3)]  # max_steps 8's schedule


def multiview_data(tiny_data):
    """The tiny spheres as shapes of 4, 2, 1 and 1 views with known poses."""
    import numpy as np

    from training.dataset import load_split

    d = load_split(tiny_data, "train", verbose=False)
    poses = np.tile(np.eye(4, dtype=np.float32), (len(d), 1, 1))
    for i in range(len(d)):
        a = np.radians(45.0 * i)
        poses[i, 0, 0], poses[i, 0, 2], poses[i, 2, 0], poses[i, 2, 2] = (
            np.cos(a), -np.sin(a), np.sin(a), np.cos(a))
    ids = np.array(["a", "a", "a", "a", "b", "b", "c", "d"])
    return type(d)(**{**d.arrays(), "shape_id": ids, "object_to_view": poses})


@pytest.mark.parametrize("augment", [0.0, 1.0])  # 0: through the cache of frozen encodings
def test_training_the_view_fusion_alone_keeps_the_one_view_network(tiny_data, tmp_path, augment):
    """train_only_fusion: every weight but the fusion's stays where init_weights put it, the
    fusion learns, and a resumed run ends bit for bit where a straight one does."""
    from backend.model import save_weights

    torch.manual_seed(3)
    donor = Slice3DCompact(ModelConfig.from_dict(TINY))
    init = save_weights(donor, tmp_path / "donor.safetensors", dtype=torch.float32)
    data = multiview_data(tiny_data)
    cfg = tiny_cfg(model={**TINY, "view_fusion": "meanmax", "view_width": 8}, views=[1, 4],
                   train_only_fusion=True, init_weights=str(init), augment=augment, lr=1e-2)
    T.train(dict(cfg, name="a"), run_root=tmp_path, mirror_root=None, train_data=data)
    got = load_weights(tmp_path / "a" / "model.safetensors").state_dict()
    for k, v in donor.state_dict().items():
        assert torch.equal(got[k], v), k
    assert got["view_fusion.gate"].abs().sum() > 0
    T.train(dict(cfg, name="b"), run_root=tmp_path, mirror_root=None, train_data=data,
            stop_at=2)
    T.train(dict(cfg, name="b"), resume=True, run_root=tmp_path, mirror_root=None,
            train_data=data)
    resumed = load_weights(tmp_path / "b" / "model.safetensors").state_dict()
    for k in got:
        assert torch.equal(got[k], resumed[k]), k


def test_several_views_need_a_fusion_and_a_sane_range(tmp_path):
    with pytest.raises(ValueError, match="need a network with a view fusion"):
        T.train(tiny_cfg(views=[1, 4]), run_root=tmp_path, mirror_root=None)
    with pytest.raises(ValueError, match="views must be"):
        T.train(tiny_cfg(views=[2, 6], model={**TINY, "view_fusion": "meanmax"}),
                run_root=tmp_path, mirror_root=None)
    with pytest.raises(ValueError, match="one photo never uses"):
        T.train(tiny_cfg(train_only_fusion=True, model={**TINY, "view_fusion": "meanmax"}),
                run_root=tmp_path, mirror_root=None)


def test_frozen_encodings_are_the_encoder_in_half_precision_kept_or_not():
    from training.loss import FrozenEncodings

    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict(TINY)).eval()
    images = torch.rand(3, 4, 128, 128)
    cache = FrozenEncodings(model, limit=2)
    first = cache.encode(images, torch.tensor([7, 8, 9]))
    assert sorted(cache.store) == [7, 8]  # the limit: the third is encoded, not kept
    with torch.no_grad():  # each image encoded alone, rounded to half precision
        alone = [model.encode(images[i : i + 1]) for i in range(3)]
    direct = {k: torch.cat([a[k] for a in alone]) for k in alone[0]}
    for k, v in direct.items():
        assert torch.equal(first[k], v.half().float()), k
    again = cache.encode(images[[2, 0]], torch.tensor([9, 7]))  # one kept, one encoded again
    for k in direct:
        assert torch.equal(again[k], first[k][[2, 0]]), k


def test_training_the_colour_head_alone_keeps_the_sdf_and_learns_the_hidden_side(tmp_path):
    """train_only_colour: every weight but the colour head's stays where init_weights put it
    (so the SDF is bit for bit the donor's), the head learns the far side's colour (val colour
    error below copying the photo), and a resumed run ends bit for bit where a straight one
    does."""
    from colour_shards import add_colours
    from slice3d_tiny import make_tiny_dataset

    from backend.model import save_weights

    data = add_colours(make_tiny_dataset(tmp_path / "shards"))
    torch.manual_seed(3)
    donor = Slice3DCompact(ModelConfig.from_dict(TINY))
    init = save_weights(donor, tmp_path / "donor.safetensors", dtype=torch.float32)
    cfg = tiny_cfg(data=str(data), model={**TINY, "colour_head": "mlp", "colour_width": 16},
                   train_only_colour=True, colour_band=0.05, init_weights=str(init),
                   augment=0.0, lr=1e-2, max_steps=40, eval_every=40, log_every=10)
    T.train(dict(cfg, name="a"), run_root=tmp_path, mirror_root=None)
    got = load_weights(tmp_path / "a" / "model.safetensors").state_dict()
    for k, v in donor.state_dict().items():
        assert torch.equal(got[k], v), k
    rows = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    final = [r for r in rows if r["kind"] == "val"][-1]
    assert final["known"] > 0.9 and final["colour"] < 0.6 * final["colour_photo"], final
    T.train(dict(cfg, name="b"), run_root=tmp_path, mirror_root=None, stop_at=13)
    T.train(dict(cfg, name="b"), resume=True, run_root=tmp_path, mirror_root=None)
    resumed = load_weights(tmp_path / "b" / "model.safetensors").state_dict()
    for k in got:
        assert torch.equal(got[k], resumed[k]), k


def test_training_the_colour_head_needs_one_and_one_photo(tmp_path):
    with pytest.raises(ValueError, match="needs a network with a colour head"):
        T.train(tiny_cfg(train_only_colour=True), run_root=tmp_path, mirror_root=None)
    with pytest.raises(ValueError, match="one photo per item"):
        T.train(tiny_cfg(train_only_colour=True, views=[1, 2],
                         model={**TINY, "colour_head": "mlp", "view_fusion": "meanmax"}),
                run_root=tmp_path, mirror_root=None)
    with pytest.raises(ValueError, match="colour_band"):
        T.train(tiny_cfg(train_only_colour=True, colour_band=0,
                         model={**TINY, "colour_head": "mlp"}), run_root=tmp_path, mirror_root=None)


def test_val_data_validates_a_train_only_set_on_another_folder(tiny_data, tmp_path):
    train_only = tmp_path / "train_only"
    train_only.mkdir()
    manifest = json.loads((tiny_data / "manifest.json").read_text())
    manifest["splits"] = {"train": [f"{tiny_data}/{r}" for r in manifest["splits"]["train"]]}
    (train_only / "manifest.json").write_text(json.dumps(manifest))
    cfg = tiny_cfg(data=[str(train_only)])
    with pytest.raises(FileNotFoundError, match="no 'val' shards"):
        T.load_data(cfg, 64)
    train, val = T.load_data(dict(cfg, val_data=str(tiny_data)), 64)
    assert {s[:6] for s in train.shape_id} == {"train_"}
    assert {s[:4] for s in val.shape_id} == {"val_"} and len(val.shape_id) == 4


def test_lr_scale_moves_the_named_parameters_at_their_own_pace(tiny_data, tmp_path):
    side = {**TINY, "side_encoder": "efficientnet_lite0", "side_width": 4}
    model = Slice3DCompact(ModelConfig.from_dict(side))
    groups = T.param_groups(model, list(model.parameters()), {"side.to_coord.": 10, "side.": 3})
    named = {id(p): n for n, p in model.named_parameters()}
    by_scale = {g["scale"]: {named[id(p)] for p in g["params"]} for g in groups}
    assert groups[0]["scale"] == 1.0 and set(by_scale) == {1.0, 10.0, 3.0}
    assert all(n.startswith("side.to_coord.") for n in by_scale[10.0])
    assert "side.proj.weight" in by_scale[3.0] and "sdf_head.weight" in by_scale[1.0]

    def run(name: str, scale: dict) -> dict[str, torch.Tensor]:
        T.train(tiny_cfg(data=str(tiny_data), name=name, lr_scale=scale, max_steps=3),
                run_root=tmp_path, mirror_root=None)
        return load_weights(tmp_path / name / "model.safetensors").state_dict()

    torch.manual_seed(0)
    start = Slice3DCompact(ModelConfig.from_dict(TINY)).state_dict()
    plain, slowed = run("plain", {}), run("slowed", {"sdf_head.": 1e-6})
    for key in ("sdf_head.weight", "coord_tok.0.weight"):
        assert not torch.allclose(plain[key], start[key], atol=1e-5), key
    assert torch.allclose(slowed["sdf_head.weight"], start["sdf_head.weight"], atol=1e-5)
    assert not torch.allclose(slowed["coord_tok.0.weight"], start["coord_tok.0.weight"],
                              atol=1e-5)
    with pytest.raises(ValueError, match="lr_scale"):
        T.train(tiny_cfg(lr_scale={"side.": 0}), run_root=tmp_path, mirror_root=None)
