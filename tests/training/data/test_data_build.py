"""A tiny end-to-end build: shard format, manifest, split disjointness and resuming."""

from __future__ import annotations

import json

import numpy as np
import pytest

from backend.geometry import ndc_to_pixel, project_ndc
from training.data.build import build, plan_units, planned_shapes
from training.data.shards import SPLITS, assign_splits, read_shard, split_of


def test_split_is_by_shape_and_stable():
    ids = [f"proc-chair-{i:06d}" for i in range(400)]
    a = assign_splits(ids)
    assert a == assign_splits(list(reversed(ids)))
    assert {split_of(i) for i in ids} == set(SPLITS)
    assert 0.03 < sum(v == "test" for v in a.values()) / len(ids) < 0.15
    few = assign_splits(["cgal-a", "cgal-b", "cgal-c"])
    assert set(few.values()) >= {"test", "val"}  # every source keeps a held-out shape


def _inside_points_project_into_the_silhouette(image, points, sdf):
    """The SDF and the input image describe the same object from the same camera."""
    inside = sdf.astype(np.float64) < -0.01
    if not inside.any():
        return
    ndc, _ = project_ndc(points[inside].astype(np.float64))
    px = np.clip(ndc_to_pixel(ndc, 256).astype(int), 0, 255)
    alpha = image[..., 3]
    assert (alpha[px[:, 1], px[:, 0]] > 0).mean() > 0.995


def test_tiny_build(tmp_path):
    m = build(tmp_path, ["procedural"], 11, views=2, workers=1, points=256)
    assert m["version"] == 1 and m["image_size"] == 256 and m["slice_size"] == 128
    assert m["points_per_sample"] == 256
    seen: dict[str, set] = {}
    for split in SPLITS:
        ids = set()
        for rel in m["splits"][split]:
            z = read_shard(tmp_path / rel)
            n = len(z["shape_id"])
            assert z["image"].shape == (n, 256, 256, 4) and z["image"].dtype == np.uint8
            assert z["slices"].shape == (n, 12, 128, 128, 2) and z["slices"].dtype == np.uint8
            assert z["points"].shape == (n, 256, 3) and z["points"].dtype == np.float16
            assert z["sdf"].shape == (n, 256) and z["sdf"].dtype == np.float16
            assert z["slab_bounds"].shape == (n, 12, 2) and z["bbox"].shape == (n, 2, 3)
            assert z["object_to_view"].shape == (n, 4, 4) and z["view"].shape == (n, 3)
            assert (z["source"] == "procedural").all()
            assert (z["image"][:, 0, 0, 3] == 0).all()  # transparent background
            # bbox and slabs agree; the object is inside the SDF cube
            np.testing.assert_allclose(z["slab_bounds"][:, 0, 0], z["bbox"][:, 0, 0], atol=1e-6)
            assert np.abs(z["bbox"]).max() < 0.56
            for img, pts, sdf in zip(z["image"], z["points"], z["sdf"], strict=True):
                _inside_points_project_into_the_silhouette(img, pts, sdf)
            ids |= set(z["shape_id"].tolist())
            if split != "train":
                for sid in ids:
                    mesh = np.load(tmp_path / "meshes" / f"{sid}.npz")
                    assert mesh["faces"].dtype == np.int32 and mesh["vertices"].shape[1] == 3
        seen[split] = ids
    assert not (
        seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"]
    )
    assert sum(len(s) for s in seen.values()) == 11
    counts = m["counts"]
    assert sum(n for s in counts.values() for src in s.values() for n in src.values()) == 22
    # resuming does nothing new
    plan = json.loads((tmp_path / "plan.json").read_text())
    before = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*.npz")}
    build(tmp_path, ["procedural"], 11, views=2, workers=1, points=256)
    assert before == {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*.npz")}
    assert plan == json.loads((tmp_path / "plan.json").read_text())


def test_evaluation_splits_build_alone_then_the_rest_resumes(tmp_path):
    """``splits=("val", "test")`` makes the held-out shards only; the full build then adds
    the training shards without touching them, and the plan is the full build's."""
    m = build(tmp_path, ["procedural"], 11, views=1, workers=1, points=64, splits=("val", "test"))
    assert m["splits"]["train"] == [] and m["splits"]["val"] and m["splits"]["test"]
    held_out = {p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*.npz")}
    assert not list(tmp_path.glob("train/*.npz"))
    m = build(tmp_path, ["procedural"], 11, views=1, workers=1, points=64)
    assert m["splits"]["train"]
    assert held_out == {
        p: p.stat().st_mtime_ns for p in tmp_path.glob("*/*.npz") if p.parent.name != "train"
    }


def test_a_build_makes_only_the_named_sources(tmp_path):
    """Re-planning one source keeps the other's pending shards in the plan but does not make
    them: a real-mesh training build does not wait for the procedural shards."""
    build(tmp_path, ["procedural"], 11, views=1, workers=1, points=64, splits=("val", "test"))

    def shards() -> set[str]:
        return {str(p.relative_to(tmp_path)) for s in SPLITS for p in tmp_path.glob(f"{s}/*.npz")}

    made = shards()
    m = build(tmp_path, ["everyday"], 3, views=1, workers=1, points=64)
    plan = json.loads((tmp_path / "plan.json").read_text())["units"]
    assert {u["source"] for u in plan} == {"procedural", "everyday"}
    new = shards() - made
    assert new and all(n.split("/")[1].startswith("everyday") for n in new)
    assert not any(rel.startswith("train/procedural") for rel in m["splits"]["train"])


def test_a_set_that_excludes_an_earlier_one_adds_only_new_shapes_split_as_one_build(tmp_path):
    """``--exclude``: more shapes of a source without repeating the earlier set's, and every
    shape in the split one bigger build would give it (no test shape becomes a training one)."""
    first, more = tmp_path / "first", tmp_path / "more"
    build(first, ["procedural"], 11, views=1, workers=1, points=64, splits=("val",))
    earlier = planned_shapes((first,))
    assert len(earlier) == 11
    m = build(more, ["procedural"], 30, views=1, workers=1, points=64, splits=("val",),
              exclude_sets=(first,))
    planned = {s: set() for s in SPLITS}
    for u in json.loads((more / "plan.json").read_text())["units"]:
        planned[u["split"]].update(i for i, _ in u["shapes"])
    added = set().union(*planned.values())
    assert len(added) == 19 and not added & earlier
    whole = {u.path: u for u in plan_units(["procedural"], 30, 1, 64)}
    one_build = {i: u.split for u in whole.values() for i, _ in u.shapes}
    assert all(one_build[i] == s for s, ids in planned.items() for i in ids)
    assert m["splits"]["val"] and not m["splits"]["train"]


def test_excluding_a_folder_without_a_plan_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="no plan.json"):
        build(tmp_path / "out", ["procedural"], 3, views=1, points=64, exclude_sets=(tmp_path,))
    assert not (tmp_path / "out").exists()
