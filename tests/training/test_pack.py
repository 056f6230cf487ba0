"""Packs: a training set carried to a GPU machine reads back as the folder it came from."""

from __future__ import annotations

import json

import numpy as np
import pytest
from slice3d_tiny import make_tiny_dataset, tiny_cfg

from training import dataset as D
from training import pack as P
from training import train as T


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_tiny_dataset(tmp_path_factory.mktemp("shards"))


def test_a_pack_reads_back_as_the_folder_with_fewer_points(tiny_data, tmp_path):
    out = tmp_path / "p.npz"
    P.main(["--data", str(tiny_data), "--points", "100", "--out", str(out)])
    folder = D.load_split(tiny_data, "train", verbose=False)
    packed = P.load_pack(out, "train")
    for k in ("image", "slices", "bbox", "shape_id", "source"):
        np.testing.assert_array_equal(getattr(packed, k), getattr(folder, k))
    assert packed.points.shape == (len(folder), 100, 3) and packed.sdf.shape == (len(folder), 100)
    # each kept point is one of the sample's own, with its own distance
    def rows(d, i):
        return {(*p, s) for p, s in zip(d.points[i].tolist(), d.sdf[i].tolist(), strict=True)}

    for i in range(len(folder)):
        pairs, kept = rows(folder, i), rows(packed, i)
        assert kept <= pairs and len(kept) == 100
    assert len(P.load_pack(out, "val")) == len(D.load_split(tiny_data, "val", verbose=False))
    assert not out.with_name("p.npz.part").exists()


def test_points_are_a_random_subset_not_a_prefix(tiny_data):
    data = D.load_split(tiny_data, "train", verbose=False)
    kept = P.subsample_points(data, 64)
    prefix = data.points[:, :64]
    assert not np.array_equal(kept.points, prefix)  # shards put near-surface points first
    assert P.subsample_points(data, 10_000) is data  # asking for more keeps them all


def test_colours_are_subsampled_with_their_points(tiny_data):
    data = D.load_split(tiny_data, "train", verbose=False)
    n, p = data.points.shape[:2]
    # a colour that encodes its point's index: after the subset, each colour still names its point
    index = np.arange(p)
    colours = np.zeros((n, p, 4), np.uint8)
    colours[..., 0], colours[..., 1], colours[..., 3] = index % 256, index // 256, 255
    data.colors = colours
    kept = P.subsample_points(data, 64)
    assert kept.colors is not None and kept.colors.shape == (n, 64, 4)
    for i in range(n):
        named = kept.colors[i, :, 0].astype(int) + 256 * kept.colors[i, :, 1].astype(int)
        np.testing.assert_array_equal(kept.points[i], data.points[i, named])


def test_caps_keep_a_sources_first_samples():
    src = np.array(["a", "b", "a", "a", "b", "a"])
    data = D.ShardSet(image=np.arange(6), slices=np.arange(6), points=np.zeros((6, 2, 3)),
                      sdf=np.zeros((6, 2)), bbox=np.zeros((6, 2, 3)),
                      shape_id=np.array([f"s{i}" for i in range(6)]), source=src)
    kept = P.keep_sources(data, None, {"a": 2})
    assert kept.image.tolist() == [0, 1, 2, 4]  # the first two a's (0, 2) and every b
    assert P.keep_sources(data, ["b"], {}).image.tolist() == [1, 4]


@pytest.mark.parametrize("item", ["pybullet", "pybullet=", "pybullet=many"])
def test_a_bad_cap_is_refused_with_the_form_it_takes(item):
    with pytest.raises(SystemExit, match="SOURCE=N"):
        P.parse_caps([item])


def test_training_reads_a_pack_named_in_the_config(tiny_data, tmp_path):
    out = tmp_path / "p.npz"
    P.main(["--data", str(tiny_data), "--points", "64", "--out", str(out)])
    cfg = tiny_cfg(data=[str(out)], max_steps=2)
    result = T.train(cfg, run_root=tmp_path / "runs", mirror_root=None)
    assert result["step"] == 2
    log = (tmp_path / "runs" / "tiny" / "log.jsonl").read_text()
    rows = [json.loads(x) for x in log.splitlines()]
    assert any(r["kind"] == "val" for r in rows)  # the pack's val split was read too


def test_a_pack_without_the_split_says_so(tiny_data, tmp_path):
    out = tmp_path / "train_only.npz"
    P.write_pack({"train": D.load_split(tiny_data, "train", verbose=False)}, out)
    with pytest.raises(FileNotFoundError, match="no 'val' split"):
        P.load_pack(out, "val")


def test_a_pack_of_another_image_size_is_refused(tiny_data, tmp_path):
    out = tmp_path / "p.npz"
    P.main(["--data", str(tiny_data), "--points", "64", "--out", str(out)])
    assert len(P.load_pack(out, "train", input_size=128)) == 8
    with pytest.raises(ValueError, match="--input-size 96"):
        P.load_pack(out, "train", input_size=96)


def test_a_set_without_view_poses_packs_as_plain_arrays_and_reads_back_without_them(
        tiny_data, tmp_path):
    import dataclasses

    folder = D.load_split(tiny_data, "train", verbose=False)
    old = dataclasses.replace(folder, object_to_view=None)  # as a set read from an older pack
    out = tmp_path / "old.npz"
    P.write_pack({"train": old}, out)
    with np.load(out, allow_pickle=False) as z:  # a pickled None would fail to load here
        assert "train/object_to_view" not in z.files
    assert P.load_pack(out, "train").object_to_view is None
