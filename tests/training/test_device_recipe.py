"""The one prepared GPU command, run for real on the CPU in its smoke mode: the data engine
builds while stage 1 trains on a carried pack, the build stops and joins the pack, stage 2 trains
from stage 1's weights, and what must come back (weights the backend loads, both logs, a
summary) is in the output folder within its limits."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from slice3d_tiny import TINY, make_tiny_dataset

from backend.model import ModelConfig, Slice3DCompact, load_weights, save_weights
from training.config import load_config
from training.pack import main as pack_main

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "device_recipe.py"
CONFIG = REPO / "training" / "configs" / "experiments" / "gpu_wide.json"


def test_the_smoke_mode_builds_trains_both_stages_and_returns_loadable_weights(tmp_path):
    pack = tmp_path / "carry" / "pack.npz"
    pack_main(["--data", str(make_tiny_dataset(tmp_path / "tiny")), "--points", "256",
               "--out", str(pack)])
    init = tmp_path / "carry" / "init.safetensors"  # a copy, as the GPU run carries it
    shutil.copyfile(REPO / "backend" / "weights" / "slice3d_compact.safetensors", init)
    out, work = tmp_path / "out", tmp_path / "work"
    run = subprocess.run([sys.executable, str(SCRIPT), str(CONFIG), "--smoke", "--pack",
                          str(pack), "--init", str(init), "--out", str(out), "--work", str(work)],
                         capture_output=True, text=True, timeout=420)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    summary = json.loads((out / "summary.json").read_text())
    built = summary["build"]["counts"].get("train", {})
    assert sum(built.get("procedural", {}).values()) > 0  # the engine built shards
    assert summary["stage2_train"]["procedural"] > 0 and summary["stage2_train"]["sphere"] == 8
    run_info = summary["runs"]["gpu_wide"]
    assert run_info["s1"]["steps"] > 0 and run_info["s2"]["steps"] > 0
    assert run_info["s2"]["last_val"] is not None

    weights = out / "gpu_wide.safetensors"
    assert weights.stat().st_size <= 16 * 2**20
    net = load_weights(weights)  # the backend's loader
    cfg = load_config(CONFIG)["model"]  # the smoke narrows the encoder, keeps the rest
    assert (net.config.d_model, net.config.layers) == (cfg["d_model"], cfg["layers"])
    assert list(net.config.channels) == [8, 8, 16, 16]
    for stage in ("s1", "s2"):
        assert (out / f"gpu_wide_{stage}_log.jsonl").stat().st_size > 0
    assert len(list(out.iterdir())) <= 8  # what a run brings back from $OUT
    assert "python -m training.evaluate --data data/photo_val" in run.stdout
    assert "python -m training.ship" in run.stdout


def load_script():
    spec = importlib.util.spec_from_file_location("device_recipe", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_weights_over_the_return_limit_come_back_as_fp16_and_still_load(tmp_path, monkeypatch):
    recipe = load_script()
    src = save_weights(Slice3DCompact(ModelConfig.from_dict(TINY)), tmp_path / "w.safetensors",
                       dtype=torch.float32)
    monkeypatch.setattr(recipe, "MAX_OUT_BYTES", src.stat().st_size - 1)
    dst = recipe.fit_for_return(src, tmp_path / "back.safetensors")
    assert dst.stat().st_size < 0.6 * src.stat().st_size  # halved, metadata kept
    assert next(load_weights(dst).parameters()).dtype == torch.float32  # the loader casts back
    monkeypatch.setattr(recipe, "MAX_OUT_BYTES", 100)
    with pytest.raises(SystemExit, match="cannot come back"):
        recipe.fit_for_return(src, tmp_path / "too_big.safetensors")


def test_a_stage_drops_the_source_weights_of_sources_its_data_lacks(tmp_path):
    recipe = load_script()
    path = recipe.derived_config(str(CONFIG), tmp_path / "s1.json", "gpu_wide_s1", ["pack.npz"],
                                 None, {"batch_size": 2}, present={"0ad", "pybullet"})
    cfg = load_config(path)
    assert cfg["source_weights"] == {"0ad": 2}  # cgal, flightgear, sh3d: not in this data
    assert (cfg["batch_size"], cfg["name"], cfg["init_weights"]) == (2, "gpu_wide_s1", "")
    assert cfg["model"]["channels"] == load_config(CONFIG)["model"]["channels"]
