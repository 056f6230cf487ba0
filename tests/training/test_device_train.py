"""The GPU-lease driver: runs train side by side to one deadline, an ablation pair takes equal
steps, and each run's averaged weights and log land in the output folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from slice3d_tiny import make_tiny_dataset, tiny_cfg

from backend.model import load_weights

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "device_train.py"


def test_an_ablation_pair_trains_to_the_deadline_with_equal_steps(tmp_path):
    data = make_tiny_dataset(tmp_path / "data")
    configs = []
    for name, slices in (("pair_slices", True), ("pair_noslice", False)):
        cfg = tiny_cfg(name=name, data=[str(data)], max_steps=10**6, ckpt_minutes=0.02)
        cfg["model"] = {**cfg["model"], "slices": slices}
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(cfg))
        configs.append(str(path))
    out, root = tmp_path / "out", tmp_path / "root"
    run = subprocess.run([sys.executable, str(SCRIPT), *configs, "--minutes", "0.6",
                          "--finish-seconds", "5",
                          "--out", str(out), "--root", str(root),
                          "--same-steps", "pair_slices,pair_noslice"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]

    steps = {n: json.loads((root / n / "config.json").read_text())["max_steps"]
             for n in ("pair_slices", "pair_noslice")}
    assert steps["pair_slices"] == steps["pair_noslice"] > 0  # the same budget for both
    for name in steps:
        weights = next(out.glob(f"{name}_*.safetensors"))
        assert load_weights(weights).config.slices == (name == "pair_slices")
        rows = [json.loads(x) for x in (out / f"{name}_log.jsonl").read_text().splitlines()]
        assert rows[-1]["kind"] == "val"  # the run finished and was validated


def test_a_deadline_too_close_to_train_says_so_and_fails(tmp_path):
    data = make_tiny_dataset(tmp_path / "data")
    cfg = tmp_path / "one.json"
    cfg.write_text(json.dumps(tiny_cfg(name="one", data=[str(data)])))
    run = subprocess.run([sys.executable, str(SCRIPT), str(cfg), "--minutes", "0.05",
                          "--out", str(tmp_path / "out"), "--root", str(tmp_path / "root")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "give --minutes more" in run.stdout + run.stderr
    assert "runs ['one'] failed" in run.stderr
