"""python -m training.pose_eval on a tiny data set in the data engine's format: an asymmetric
object rendered from known cameras, through the backend's real path (baseline predictor)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from multiview_scene import known_object, photograph

from backend.multiview.poses import view_rotation
from training.pose_eval import load_shapes, main, run, summarise

VIEWS = [(10.0, 15.0, 1.0), (100.0, 15.0, 0.9), (210.0, 30.0, 1.05)]


def write_data(root, with_meshes: bool = False) -> None:
    """Two shapes (the object, and it turned upside down) with three samples each; with
    ``with_meshes`` also the true meshes and each sample's object_to_view, as the engine
    writes them."""
    mesh = known_object()
    flipped = known_object()
    flipped.vertices[:, 1] *= -1
    flipped.invert()
    images, views, ids, poses = [], [], [], []
    (root / "meshes").mkdir(parents=True)
    for sid, m in (("box-0", mesh), ("box-1", flipped)):
        np.savez(root / "meshes" / f"{sid}.npz", vertices=m.vertices.astype(np.float32),
                 faces=m.faces.astype(np.int32))
        for az, el, scale in VIEWS:
            images.append(photograph(m, az, el, size=128, scale=scale))
            views.append((az, el, scale))
            ids.append(sid)
            pose = np.eye(4)
            pose[:3, :3] = scale * view_rotation(az, el)
            poses.append(pose)
    (root / "test").mkdir(parents=True)
    extra = {"object_to_view": np.asarray(poses, np.float32)} if with_meshes else {}
    np.savez(root / "test" / "synthetic-00000.npz", image=np.stack(images),
             view=np.asarray(views, np.float32), shape_id=np.asarray(ids),
             source=np.asarray(["synthetic"] * len(ids)), **extra)
    (root / "manifest.json").write_text(json.dumps({"splits": {"test": [
        "test/synthetic-00000.npz"]}}))


def test_pose_eval_scores_found_azimuths_against_the_truth(tmp_path, capsys):
    write_data(tmp_path / "data")
    shapes = load_shapes(tmp_path / "data", "test", 5)
    assert sorted(s.shape_id for s in shapes) == ["box-0", "box-1"]
    assert all(len(s.images) == 3 for s in shapes)
    out = tmp_path / "eval.json"
    summary = run(tmp_path / "data", "test", 2, ["azimuth"], "baseline", out)
    part = summary["azimuth"]
    assert part["views"] == 4 and part["shapes"] == 2  # two extra photos of each shape
    assert 0.0 <= part["within_15deg"] <= 1.0 and part["search_s_per_view_mean"] > 0
    saved = json.loads(out.read_text())
    views = [r for r in saved["records"] if not r["stranger"]]
    strangers = [r for r in saved["records"] if r["stranger"]]
    assert len(views) == 4 and len(strangers) == 2
    for r in views:
        truth = (VIEWS[r["view"]][0] - VIEWS[0][0]) % 360
        assert r["truth_azimuth"] == truth
        assert r["elevation"] == VIEWS[r["view"]][1]  # given in this mode
        error = abs((r["azimuth"] - truth + 180) % 360 - 180)
        assert r["azimuth_error"] == error and r["within"] == (error <= 15)
    assert part["within_15deg"] == np.mean([r["within"] for r in views])
    main(["--data", str(tmp_path / "data"), "--shapes", "1", "--modes", "azimuth",
          "--predictor", "baseline"])
    assert '"within_15deg"' in capsys.readouterr().out


def test_summary_of_no_records():
    assert summarise([]) == {"views": 0}


def test_true_shapes_place_every_photo_and_poses_are_checked_for_equivalence(tmp_path):
    write_data(tmp_path / "data", with_meshes=True)
    summary = run(tmp_path / "data", "test", 2, ["azimuth-both"], "baseline", None,
                  shape_from="truth")
    part = summary["azimuth-both"]
    assert summary["shape"] == "truth" and part["views"] == 4
    assert part["within_15deg"] == 1.0  # the true shape of an asymmetric object: no doubt
    assert part["within_15deg_or_equivalent"] == 1.0
    predicted = run(tmp_path / "data", "test", 2, ["azimuth"], "baseline", None)["azimuth"]
    assert predicted["within_15deg_or_equivalent"] >= predicted["within_15deg"]


def test_true_shapes_need_the_meshes(tmp_path):
    write_data(tmp_path / "data")
    with pytest.raises(SystemExit, match="needs box-.'s mesh"):
        run(tmp_path / "data", "test", 1, ["azimuth"], "baseline", None, shape_from="truth")
