"""training.evaluate_views: several photos of held-out shapes scored against one (issue 35)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh
from slice3d_tiny import TINY, sphere_render

from backend.model import ModelConfig, Slice3DCompact, save_weights
from training import compare as C
from training import evaluate_views as EV


def rotation(azimuth: float, elevation: float, scale: float) -> np.ndarray:
    a, e = np.radians(azimuth), np.radians(elevation)
    ry = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(e), -np.sin(e)], [0, np.sin(e), np.cos(e)]])
    m = np.eye(4)
    m[:3, :3] = scale * rx @ ry
    return m


@pytest.fixture(scope="module")
def views_data(tmp_path_factory):
    """Two off-centre spheres, four views each (known poses), in the data engine's layout."""
    root = tmp_path_factory.mktemp("views")
    (root / "meshes").mkdir()
    (root / "test").mkdir()
    rng = np.random.default_rng(0)
    images, poses, ids = [], [], []
    for s in range(2):
        centre, radius = rng.uniform(-0.1, 0.1, 3), 0.25
        sid = f"sphere_{s}"
        m = trimesh.creation.icosphere(3, radius=radius)
        m.apply_translation(centre)
        np.savez(root / "meshes" / f"{sid}.npz", vertices=m.vertices.astype(np.float32),
                 faces=m.faces.astype(np.int32))
        for _ in range(4):
            pose = rotation(rng.uniform(0, 360), rng.uniform(-10, 40), rng.uniform(0.8, 1.05))
            mask, _ = sphere_render(pose[:3, :3] @ centre, radius * np.cbrt(
                np.linalg.det(pose[:3, :3])), 128)
            image = np.zeros((128, 128, 4), np.uint8)
            image[mask] = (180, 140, 90, 255)
            images.append(image)
            poses.append(pose.astype(np.float32))
            ids.append(sid)
    np.savez(root / "test" / "s-00000.npz", image=np.stack(images),
             object_to_view=np.stack(poses), shape_id=np.array(ids),
             source=np.array(["sphere"] * len(ids)), family=np.array(["sphere"] * len(ids)))
    (root / "manifest.json").write_text(json.dumps({"splits": {"test": ["test/s-00000.npz"]}}))
    return root


def fusion_weights(path):
    torch.manual_seed(0)
    model = Slice3DCompact(ModelConfig.from_dict({**TINY, "view_fusion": "meanmax",
                                                  "view_width": 8}))
    assert model.view_fusion is not None
    with torch.no_grad():
        model.view_fusion.gate.fill_(0.5)
    return save_weights(model, path, dtype=torch.float32)


def test_shapes_bring_all_their_views_with_the_reference_first(views_data):
    shapes = EV.load_shapes(views_data, "test", per_source=5)
    assert [s["shape_id"] for s in shapes] == ["sphere_0", "sphere_1"]
    assert all(len(s["images"]) == 4 and s["object_to_view"].shape == (4, 4, 4) for s in shapes)
    t = EV.relative_transforms(shapes[0]["object_to_view"])
    np.testing.assert_allclose(t[0], np.eye(4), atol=1e-6)
    x = np.array([0.1, -0.2, 0.3, 1.0])  # an object point seen in views 0 and 2
    m = shapes[0]["object_to_view"]
    np.testing.assert_allclose(t[2] @ (m[0] @ x), m[2] @ x, atol=1e-5)
    assert len(EV.load_shapes(views_data, "test", per_source=1)) == 1


def test_every_column_is_scored_and_compare_reads_the_pairs(views_data, tmp_path):
    weights = fusion_weights(tmp_path / "fusion.safetensors")
    out = tmp_path / "eval"
    EV.main(["--data", str(views_data), "--model", str(weights), "--settings-from",
             str(weights), "--views", "1", "2", "4", "--per-source", "1", "--resolution", "32",
             "--out", str(out)])
    report = json.loads((out / "results.json").read_text())
    names = ["view1", "baseline", "sdf2", "feat2", "est2", "hull2", "sdf4", "feat4", "est4",
             "hull4"]
    assert report["samples"] == 1 and list(report["summary"]["all"])[1:] == names
    for row in report["results"]:
        assert set(row["metrics"]) == set(names)
        for name in ("baseline", "hull2", "hull4"):  # an untrained network may find nothing
            assert not row["metrics"][name].get("failed") and row["metrics"][name]["iou"] > 0.5
    a, b = C.load_scores(f"{out}/results.json:baseline"), C.load_scores(f"{out}/results.json:hull4")
    rows = C.compare_runs(a, b, ["norm/chamfer_l1"], draws=50)
    assert rows[0].n == 1


def test_bad_arguments_are_refused_in_words(tmp_path):
    with pytest.raises(SystemExit, match="must include 1"):
        EV.main(["--model", "x", "--views", "2", "4"])
    with pytest.raises(SystemExit, match="no weights at"):
        EV.main(["--model", str(tmp_path / "missing.safetensors")])


def test_columns_keeps_only_the_named_ones_and_names_the_choices(views_data, tmp_path):
    weights = fusion_weights(tmp_path / "fusion.safetensors")
    out = tmp_path / "eval"
    common = ["--data", str(views_data), "--model", str(weights), "--settings-from", str(weights),
              "--views", "1", "2", "--per-source", "1", "--resolution", "32", "--out", str(out)]
    EV.main([*common, "--columns", "view1", "feat2"])
    report = json.loads((out / "results.json").read_text())
    assert set(report["results"][0]["metrics"]) == {"view1", "feat2"}
    with pytest.raises(SystemExit, match="no column feat4; .* give view1, baseline, sdf2"):
        EV.main([*common, "--columns", "view1", "feat4"])
