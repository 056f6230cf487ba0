"""Every config in the repository loads: a key the trainer no longer knows, or a misspelt one,
would otherwise surface only when someone tries to rerun a recorded run."""

from __future__ import annotations

from pathlib import Path

import pytest

from training.config import load_config

CONFIG_DIR = Path(__file__).resolve().parents[2] / "training" / "configs"
CONFIGS = sorted(CONFIG_DIR.rglob("*.json"))


def test_configs_are_found():
    assert len(CONFIGS) >= 3


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_loads(path):
    cfg = load_config(path)
    assert cfg["autocast"] in ("none", "bf16", "fp16")
    assert cfg["max_steps"] > 0


@pytest.mark.parametrize("name", ["slice3d_compact.json", "noslice_compact.json"])
def test_main_cpu_configs_train_in_float32(name):
    """bf16 autocast was 3-10x slower per step on the development CPU (docs/BENCHMARKS.md)."""
    cfg = load_config(CONFIG_DIR / name)
    assert cfg["autocast"] == "none"
