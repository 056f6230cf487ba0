"""training.dataset: reading shards, framing, concatenation, batches as a function of step,
source weights and the photometric augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training import dataset as D


def test_load_split(tiny_data):
    d = D.load_split(tiny_data, "train", verbose=False)
    assert len(d) == 8
    assert d.image.shape == (8, 128, 128, 4) and d.image.dtype == np.uint8
    assert d.slices.shape == (8, 12, 2, 64, 64)
    assert d.points.shape == (8, 512, 3) and d.sdf.shape == (8, 512)
    # framing matches the backend: background composited on white, alpha kept
    assert d.image[0, 0, 0].tolist() == [255, 255, 255, 0]


def test_a_shape_shared_by_two_data_folders_is_read_once(tiny_data):
    d = D.load_split(tiny_data, "train", verbose=False)
    extra = D.ShardSet(**{k: getattr(d, k)[:3].copy() for k in D.ShardSet.__dataclass_fields__})
    extra.shape_id = extra.shape_id.astype("<U64")
    extra.shape_id[2] = "a-shape-only-the-second-folder-has"
    both = D.concat_sets([d, extra])
    assert len(both) == len(d) + 1
    assert both.shape_id[-1] == "a-shape-only-the-second-folder-has"
    np.testing.assert_array_equal(both.bbox[-1], d.bbox[2])
    assert len(D.concat_sets([d, extra, extra])) == len(d) + 1


def test_batches_are_a_function_of_step():
    a = [D.batch_indices(10, s, 4, 0) for s in range(6)]
    b = [D.batch_indices(10, s, 4, 0) for s in range(6)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    first_epoch = np.concatenate(a)[:10]
    assert sorted(first_epoch.tolist()) == list(range(10))


def test_source_weights_repeat_samples_per_epoch():
    sources = np.array(["0ad", "procedural", "0ad", "cgal"])
    assert D.sampling_order(sources, {}).tolist() == [0, 1, 2, 3]
    order = D.sampling_order(sources, {"0ad": 3, "cgal": 2})
    assert np.bincount(order).tolist() == [3, 1, 3, 2]
    first_epoch = order[np.concatenate([D.batch_indices(len(order), s, 3, 0) for s in range(3)])]
    assert np.bincount(first_epoch, minlength=4).tolist() == [3, 1, 3, 2]


@pytest.mark.parametrize(("weights", "message"), [
    ({"0ad": 0}, "whole number >= 1"),
    ({"0ad": 1.5}, "whole number >= 1"),
    ({"Oad": 2}, "not in the training data"),
])
def test_bad_source_weights_are_refused_with_the_reason(weights, message):
    with pytest.raises(ValueError, match=message):
        D.sampling_order(np.array(["0ad", "cgal"]), weights)


def test_augmentation_changes_the_object_colour_only():
    rng = np.random.default_rng(0)
    image = torch.ones(6, 4, 32, 32)
    image[:, 3] = 0.0
    image[:, 3, 8:24, 8:24] = 1.0
    image[:, :3, 8:24, 8:24] = torch.rand(6, 3, 16, 16) * 0.5 + 0.25
    out = D.augment_images(image.clone(), np.random.default_rng(1), 1.0)
    again = D.augment_images(image.clone(), np.random.default_rng(1), 1.0)
    assert torch.equal(out, again)  # a function of the batch rng, so resume stays exact
    assert torch.equal(out[:, 3], image[:, 3])  # the silhouette (and so every target) stays
    background = image[:, 3:] == 0
    assert torch.all(out[:, :3][background.expand(-1, 3, -1, -1)] == 1.0)
    assert out.min() >= 0 and out.max() <= 1
    inside = (out[:, :3, 8:24, 8:24] - image[:, :3, 8:24, 8:24]).abs().mean(dim=(1, 2, 3))
    assert torch.all(inside > 0.005)  # every image changed
    assert torch.equal(D.augment_images(image.clone(), rng, 0.0)[:, 3], image[:, 3])


def test_augmentation_adds_sensor_noise_on_the_images_device():
    image = torch.ones(4, 4, 32, 32)
    image[:, :3, 8:24, 8:24] = 0.5  # a flat grey object: only the noise can vary its pixels
    out = D.augment_images(image, np.random.default_rng(3), 1.0)
    assert out.device == image.device
    assert torch.all(out[:, :3, 10:22, 10:22].flatten(1).std(dim=1) > 1e-4)




def test_make_batch_is_a_function_of_the_generator(tiny_data):
    d = D.load_split(tiny_data, "train", verbose=False)
    a = D.make_batch(d, np.arange(3), 32, np.random.default_rng(5), torch.device("cpu"), 1.0)
    b = D.make_batch(d, np.arange(3), 32, np.random.default_rng(5), torch.device("cpu"), 1.0)
    assert a["points"].shape == (3, 32, 3) and a["slices"].shape == (3, 24, 64, 64)
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_a_pack_and_a_folder_read_through_one_entry(tiny_data, tmp_path):
    from training.pack import write_pack

    folder = D.read_split(tiny_data, "train", 128)
    write_pack({"train": folder}, tmp_path / "p.npz")
    packed = D.read_split(tmp_path / "p.npz", "train", 128)
    np.testing.assert_array_equal(packed.image, folder.image)


def rotation(azimuth: float, scale: float) -> np.ndarray:
    a = np.radians(azimuth)
    m = np.eye(4, dtype=np.float32)
    m[:3, :3] = scale * np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0],
                                  [np.sin(a), 0, np.cos(a)]])
    return m


def with_views(d: D.ShardSet) -> D.ShardSet:
    """The tiny set relabelled as shapes with several views: a x4, b x2, c, d (consecutive)."""
    ids = np.array(["a", "a", "a", "a", "b", "b", "c", "d"])
    poses = np.stack([rotation(40.0 * i, 0.8 + 0.03 * i) for i in range(len(ids))])
    return D.ShardSet(**{**d.arrays(), "shape_id": ids, "object_to_view": poses})


def test_shards_keep_the_view_poses(tiny_data):
    d = D.load_split(tiny_data, "train", verbose=False)
    assert d.object_to_view is not None and d.object_to_view.shape == (8, 4, 4)
    assert d.object_to_view.dtype == np.float32
    assert D.keep_sources(d, ["sphere"], {"sphere": 3}).object_to_view.shape == (3, 4, 4)


def test_the_views_of_a_shape_are_its_consecutive_samples():
    starts, lengths = D.shape_runs(np.array(["a", "a", "a", "b", "c", "c"]))
    assert starts.tolist() == [0, 0, 0, 3, 4, 4]
    assert lengths.tolist() == [3, 3, 3, 1, 2, 2]


def test_extra_views_come_from_the_same_shape_never_the_reference(tiny_data):
    d = with_views(D.load_split(tiny_data, "train", verbose=False))
    idx = np.array([0, 2, 4, 6, 7, 3])
    seen = set()
    for seed in range(30):
        others, present = D.pick_views(d, idx, (1, 4), np.random.default_rng(seed))
        assert others.shape == present.shape == (6, 3)
        for row, i in enumerate(idx):
            real = others[row][present[row]]
            assert len(set(real.tolist())) == len(real)  # no view twice
            assert all(d.shape_id[j] == d.shape_id[i] and j != i for j in real)
            assert (others[row][~present[row]] == i).all()  # padding: the reference itself
            seen.add((int(i), int(present[row].sum())))
    # every count from 0 to the shape's other views turns up; c and d have none to give
    assert {(0, k) for k in range(4)} <= seen and {(4, 0), (4, 1)} <= seen
    assert {k for i, k in seen if i in (6, 7)} == {0}
    _, present = D.pick_views(d, idx, (4, 4), np.random.default_rng(0))
    assert present.sum(1).tolist() == [3, 3, 1, 0, 0, 3]  # all asked for, as far as there are


def test_a_view_transform_maps_the_reference_frame_into_the_other_view():
    poses = np.stack([rotation(30, 0.9), rotation(150, 1.05)])
    t = D.view_transforms(poses, np.array([0]), np.array([[1]]))
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (20, 3))  # object-frame points
    in_ref = x @ poses[0, :3, :3].T
    in_other = x @ poses[1, :3, :3].T
    np.testing.assert_allclose(in_ref @ t[0, 0, :3, :3].T + t[0, 0, :3, 3], in_other, atol=1e-5)


def test_a_batch_with_views_adds_them_after_the_single_view_draws(tiny_data):
    d = with_views(D.load_split(tiny_data, "train", verbose=False))
    cpu, idx = torch.device("cpu"), np.array([1, 4, 6])
    single = D.make_batch(d, idx, 32, np.random.default_rng(5), cpu, 1.0)
    multi = D.make_batch(d, idx, 32, np.random.default_rng(5), cpu, 1.0, views=(2, 4))
    again = D.make_batch(d, idx, 32, np.random.default_rng(5), cpu, 1.0, views=(2, 4))
    for k in single:  # the reference's part is the single-view batch, bit for bit
        assert torch.equal(single[k], multi[k]), k
    for k in multi:
        assert torch.equal(multi[k], again[k]), k
    assert multi["views_image"].shape == (9, 4, 128, 128)
    assert multi["views_transform"].shape == (3, 3, 4, 4)
    assert multi["views_present"].sum(1).tolist()[2] == 0  # shape c has a single view
    assert multi["views_present"][:2].sum(1).min() >= 1  # at least 2 photos where there are


def test_data_without_poses_trains_one_view_and_refuses_several(tiny_data, tmp_path):
    d = D.load_split(tiny_data, "train", verbose=False)
    np.savez(tmp_path / "old.npz", **{f"train/{k}": v for k, v in d.arrays().items()
                                      if k != "object_to_view"})  # a pack from before poses
    old = D.load_pack(tmp_path / "old.npz", "train")
    assert old.object_to_view is None and len(old) == len(d)
    D.make_batch(old, np.arange(2), 8, np.random.default_rng(0), torch.device("cpu"))
    with pytest.raises(ValueError, match="needs object_to_view"):
        D.make_batch(old, np.arange(2), 8, np.random.default_rng(0), torch.device("cpu"),
                     views=(1, 2))


@pytest.fixture(scope="module")
def colour_data(tmp_path_factory):
    """The tiny shards, their train split painted (``colour_shards``), val left without."""
    from colour_shards import add_colours
    from slice3d_tiny import make_tiny_dataset

    return add_colours(make_tiny_dataset(tmp_path_factory.mktemp("colour")), ("train",))


def test_colours_are_read_aligned_and_missing_ones_are_unknown(colour_data):
    from colour_shards import BACK

    train = D.load_split(colour_data, "train", verbose=False)
    assert train.colors is not None and train.colors.shape == (8, 512, 4)
    assert (train.colors[..., 3] == 255).any() and (train.colors[..., 3] == 0).any()
    back = train.points[..., 2].astype(np.float32) < train.bbox.mean(axis=1)[:, None, 2]
    known = train.colors[..., 3] == 255
    assert (train.colors[back & known, :3] == BACK).all()
    val = D.load_split(colour_data, "val", verbose=False)  # a shard without the key
    assert val.colors is not None and not val.colors.any()
    renamed = D.ShardSet(**{**val.arrays(), "shape_id": np.char.add(val.shape_id, "x")})
    both = D.concat_sets([train, renamed])
    assert both.colors.shape == (12, 512, 4) and not both.colors[8:].any()


def test_colour_batches_draw_known_near_surface_points_only(colour_data):
    data = D.load_split(colour_data, "train", verbose=False)
    rng = np.random.default_rng(0)
    b = D.make_batch(data, np.arange(4), 64, rng, torch.device("cpu"), colour_band=0.01)
    assert b["colour"].shape == (4, 64, 3) and b["colour_known"].shape == (4, 64)
    assert bool((b["colour_known"] == 1).all())
    assert float(b["sdf"].abs().max()) < 0.01
    assert b["index"].tolist() == [0, 1, 2, 3]
    plain = D.make_batch(data, np.arange(4), 64, np.random.default_rng(0), torch.device("cpu"))
    assert "colour" not in plain and float(plain["sdf"].abs().max()) > 0.05


def test_colour_batches_refuse_data_without_aligned_colours(colour_data):
    data = D.load_split(colour_data, "train", verbose=False)
    cut = D.ShardSet(**{**data.arrays(), "points": data.points[:, :100], "sdf": data.sdf[:, :100]})
    with pytest.raises(ValueError, match="aligned with points"):
        D.make_batch(cut, np.arange(2), 8, np.random.default_rng(0), torch.device("cpu"),
                     colour_band=0.02)


def test_a_colour_run_keeps_the_samples_with_known_colours(colour_data):
    train = D.load_split(colour_data, "train", verbose=False)
    val = D.load_split(colour_data, "val", verbose=False)
    both = D.concat_sets([train, D.ShardSet(**{**val.arrays(),
                                              "shape_id": np.char.add(val.shape_id, "x")})])
    assert len(D.with_colours(both, 0.02)) == len(train)
    with pytest.raises(ValueError, match="no sample has a known colour"):
        D.with_colours(val, 0.02)
