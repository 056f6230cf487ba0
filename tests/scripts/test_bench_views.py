"""scripts/bench_views.py runs for real (the shipped weights, a tiny grid, one pair) and prints
well-formed figures: positive times for both kinds of job and ratios that are theirs."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from multiview_scene import known_object, photograph

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench_views.py"
SHIPPED = ROOT / "backend" / "weights" / "slice3d_compact.safetensors"
VIEWS = np.array([[30.0, 10.0, 1.0], [120.0, 20.0, 1.0], [210.0, 0.0, 1.0]], np.float32)

pytestmark = pytest.mark.skipif(not SHIPPED.is_file(), reason="no shipped weights here")


def load_script():
    spec = importlib.util.spec_from_file_location("bench_views", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_data(root: Path) -> Path:
    """A data folder as the data engine writes it, as far as the script reads it: a manifest
    with a test split of one shard holding one shape's renders (image, view, shape_id)."""
    mesh = known_object()
    images = np.stack([photograph(mesh, float(a), float(e), size=128) for a, e, _ in VIEWS])
    (root / "test").mkdir(parents=True)
    np.savez(root / "test" / "tiny-00000.npz", image=images, view=VIEWS,
             shape_id=np.array(["tiny__block"] * len(VIEWS)))
    (root / "manifest.json").write_text(json.dumps({"splits": {"test": ["test/tiny-00000.npz"]}}))
    return root


def test_one_photo_against_three_prints_positive_times_and_their_ratios(tmp_path, capsys):
    data = tiny_data(tmp_path / "data")
    load_script().main(["--data", str(data), "--views", "3", "--resolution", "32",
                        "--repeats", "1", "--threads", "1"])
    out = json.loads(capsys.readouterr().out)
    assert out["shape"] == "tiny__block" and out["resolution"] == 32 and out["repeats"] == 1
    assert out["azimuths"] == [0.0, 90.0, 180.0] and out["elevations"] == [10.0, 20.0, 0.0]
    assert out["feature_fusion"] and out["photos_used"] == 3  # the given poses keep them all
    assert [len(out["runs"][kind]) for kind in ("one", "many")] == [1, 1]
    one, many = out["median_s"]["one"], out["median_s"]["many"]
    assert one["total"] > 0 and many["total"] > 0 and many["poses"] > 0
    assert many["total"] >= many["search_s"] >= 0
    assert out["ratio_total"] == pytest.approx(many["total"] / one["total"], abs=2e-3)
    assert 0 < out["ratio_without_poses_stage"] <= out["ratio_without_search"] <= out["ratio_total"]
    assert len(out["load_average"]) == 3
