"""training.recipe: the phases chain by their run outputs, a recipe run trains and averages
without touching backend/weights/, and the last phase is the main config."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from slice3d_tiny import TINY

from backend.model import load_weights
from training import recipe as R
from training.config import load_config

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "backend" / "weights" / "slice3d_compact.safetensors"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_each_phase_starts_from_the_output_of_the_phase_before():
    names = [p.name for p in R.PHASES]
    assert names == list("ABCDEFGXKLMNOVT")
    assert load_config(R.CONFIG_DIR / "A.json")["init_weights"] == ""
    for prev, phase in zip(R.PHASES, R.PHASES[1:], strict=False):
        raw = json.loads((R.CONFIG_DIR / f"{phase.name}.json").read_text())
        assert raw["extends"] == f"{prev.name}.json"  # a phase is its changes to the one before
        cfg = load_config(R.CONFIG_DIR / f"{phase.name}.json")
        assert cfg["name"] == f"recipe/{phase.name}"
        assert cfg["init_weights"] == f"runs/recipe/{prev.name}/{prev.output_name}"
    calibrated = [p.name for p in R.PHASES if p.calibrate]
    assert calibrated == ["O", "T"]  # O's SDF, and T: the ship candidate


def test_phase_o_is_the_main_config():
    last = load_config(R.CONFIG_DIR / "O.json")
    main = load_config(REPO / "training" / "configs" / "slice3d_compact.json")
    differ = {k for k in main if main[k] != last[k]}
    assert differ == {"name", "init_weights"}


def test_phase_v_trains_only_the_view_fusion_of_the_main_network():
    v = load_config(R.CONFIG_DIR / "V.json")
    main = load_config(REPO / "training" / "configs" / "slice3d_compact.json")
    assert v["model"] == main["model"] and main["model"]["view_fusion"] != "none"
    assert v["train_only_fusion"] and max(v["views"]) > 1


def test_phase_t_trains_only_the_colour_head_of_the_main_network():
    t = load_config(R.CONFIG_DIR / "T.json")
    main = load_config(REPO / "training" / "configs" / "slice3d_compact.json")
    assert t["model"] == main["model"] and main["model"]["colour_head"] != "none"
    assert t["train_only_colour"] and not t["train_only_fusion"]
    assert any(f"--out {t['val_data']} " in c for c in R.PHASES[-1].data)


def test_the_first_phase_reads_data_the_documented_command_rebuilds():
    a = load_config(R.CONFIG_DIR / "A.json")
    assert a["data"] == "data/pre1r"
    assert any("--out data/pre1r" in c for c in R.PHASES[0].data)
    for phase in R.PHASES:  # every data folder a phase reads is built by a recipe command
        cfg = load_config(R.CONFIG_DIR / f"{phase.name}.json")
        dirs = cfg["data"] if isinstance(cfg["data"], list) else [cfg["data"]]
        commands = [c for p in R.PHASES[: R.PHASES.index(phase) + 1] for c in p.data]
        for d in dirs:
            assert any(f"--out {d} " in c for c in commands), (phase.name, d)


@pytest.mark.parametrize(("text", "names"), [
    ("A..O", "ABCDEFGXKLMNO"), ("A..V", "ABCDEFGXKLMNOV"), ("A", "A"), ("D..", "DEFGXKLMNOVT"),
    ("A-C", "ABC"),
    ("A,X", "AX"), ("..B", "AB"),
])
def test_phase_ranges(text, names):
    assert "".join(p.name for p in R.parse_phases(text)) == names


def test_a_bad_phase_range_is_refused():
    with pytest.raises(ValueError, match="no phase 'Z'"):
        R.parse_phases("A..Z")
    with pytest.raises(ValueError, match="comes after"):
        R.parse_phases("O..A")


def test_the_dry_run_prints_the_plan_and_writes_nothing(tmp_path, capsys):
    R.main(["--dry-run", "--run-root", str(tmp_path)])
    out = capsys.readouterr().out
    assert "python -m training.data build --out data/pre1r" in out
    assert "python -m training.train --config training/configs/recipe/O.json --stop-at 2372" in out
    assert "python -m training.train --config training/configs/recipe/V.json --stop-at 551" in out
    assert "python -m training.calibrate --weights" in out
    assert "backend/weights" not in out
    assert list(tmp_path.iterdir()) == []


def test_seed_side_runs_take_one_phase():
    with pytest.raises(SystemExit, match="one phase"):
        R.main(["--phases", "A..B", "--seed", "1", "--dry-run"])


def tiny_recipe(tmp_path: Path, data: Path) -> Path:
    """Two phases of the tiny network on the tiny shards: A from scratch, B from A, averaged."""
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()
    a = {"name": "recipe/A", "data": str(data), "model": TINY, "batch_size": 4,
         "points_per_shape": 64, "threads": 1, "log_every": 1, "eval_every": 2,
         "val_samples": 4, "warmup_steps": 1, "max_steps": 3, "ckpt_minutes": 0.0}
    b = {"extends": "A.json", "name": "recipe/B", "snapshot_from": 2,
         "init_weights": "runs/recipe/A/model.safetensors"}
    (cfg_dir / "A.json").write_text(json.dumps(a))
    (cfg_dir / "B.json").write_text(json.dumps(b))
    return cfg_dir


def test_a_recipe_run_chains_by_run_outputs_and_leaves_the_shipped_file(tiny_data, tmp_path):
    before = sha256(SHIPPED)
    cfg_dir = tiny_recipe(tmp_path, tiny_data)
    root = tmp_path / "runs"
    phases = [R.Phase("A"), R.Phase("B", average=True)]
    outs = [R.run_phase(p, root, config_dir=cfg_dir, mirror_root=None) for p in phases]
    assert outs == [root / "recipe/A/model.safetensors", root / "recipe/B/model_avg.safetensors"]
    used = json.loads((root / "recipe/B/config.json").read_text())
    assert used["init_weights"] == str(outs[0])  # B started from A's output, not the shipped file
    assert all(o.is_file() for o in outs)
    snaps = sorted((root / "recipe/B/snapshots").glob("*.safetensors"))
    assert len(snaps) == 2  # steps 2 and 3
    mean = load_weights(outs[1]).state_dict()
    parts = [load_weights(s).state_dict() for s in snaps]
    for k, v in mean.items():
        if v.is_floating_point():
            assert torch.allclose(v, (parts[0][k] + parts[1][k]) / 2, atol=1e-6), k
    assert (root / "recipe/B/done.json").is_file()
    # a finished phase is not trained again
    assert R.run_phase(phases[1], root, config_dir=cfg_dir, mirror_root=None) == outs[1]
    assert sha256(SHIPPED) == before


def test_a_phase_cannot_start_before_the_one_it_reads(tiny_data, tmp_path):
    cfg_dir = tiny_recipe(tmp_path, tiny_data)
    with pytest.raises(FileNotFoundError, match="run the phase before it first"):
        R.run_phase(R.Phase("B"), tmp_path / "runs", config_dir=cfg_dir, mirror_root=None)


def test_a_recipe_cannot_write_into_backend_weights(tiny_data, tmp_path):
    before = sha256(SHIPPED)
    cfg_dir = tiny_recipe(tmp_path, tiny_data)
    inside = REPO / "backend" / "weights" / "runs"
    with pytest.raises(ValueError, match="inside backend/weights"):
        R.run_phase(R.Phase("A"), inside, config_dir=cfg_dir, mirror_root=None)
    assert not inside.exists()
    assert sha256(SHIPPED) == before


def test_build_data_runs_the_phase_commands_with_this_interpreter(monkeypatch):
    import subprocess
    import sys

    calls = []
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: calls.append((argv, kw)))
    R.build_data(R.PHASES[0])
    assert calls == [([sys.executable, "-m", "training.data", "build", "--out", "data/pre1r",
                       "--sources", "procedural", "--shapes", "procedural=340", "--views", "4",
                       "--workers", "2"], {"cwd": REPO, "check": True})]
