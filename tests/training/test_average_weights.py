"""training.average_weights: the mean of a run's checkpoints, refused across different networks."""

from __future__ import annotations

import pytest
import torch

from backend.model import ModelConfig, Slice3DCompact, load_weights, read_metadata, save_weights
from training.average_weights import average_weights, main

TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def saved(tmp_path, name: str, seed: int, step: int, **kw):
    torch.manual_seed(seed)
    model = Slice3DCompact(ModelConfig.from_dict({**TINY, **kw})).eval()
    path = save_weights(model, tmp_path / name, dtype=torch.float32, info={"step": step})
    return model, path


def test_the_average_is_the_element_wise_mean(tmp_path):
    a, pa = saved(tmp_path, "a.safetensors", 0, 100)
    b, pb = saved(tmp_path, "b.safetensors", 1, 200)
    out = tmp_path / "avg.safetensors"
    info = average_weights([pa, pb], out)
    assert info["averaged_steps"] == [100, 200] and info["step"] == 200
    avg = load_weights(out).state_dict()
    sa, sb = a.state_dict(), b.state_dict()
    assert not torch.equal(sa["sdf_head.weight"], sb["sdf_head.weight"])
    for k in avg:
        torch.testing.assert_close(avg[k], (sa[k] + sb[k]) / 2)
    assert '"averaged_steps": [100, 200]' in read_metadata(out)["slice3d_info"]


def test_different_networks_are_refused(tmp_path):
    _, pa = saved(tmp_path, "a.safetensors", 0, 100)
    _, pb = saved(tmp_path, "b.safetensors", 0, 100, slices=False)
    with pytest.raises(ValueError, match="different network"):
        average_weights([pa, pb], tmp_path / "avg.safetensors")
    with pytest.raises(ValueError, match="at least two"):
        average_weights([pa], tmp_path / "avg.safetensors")
    assert not (tmp_path / "avg.safetensors").exists()


def test_command_line(tmp_path, capsys):
    _, pa = saved(tmp_path, "a.safetensors", 0, 10)
    _, pb = saved(tmp_path, "b.safetensors", 1, 20)
    main(["--out", str(tmp_path / "avg.safetensors"), str(pa), str(pb)])
    assert "mean of steps [10, 20]" in capsys.readouterr().out
    assert (tmp_path / "avg.safetensors").is_file()


def test_command_line_reports_a_missing_file_without_a_traceback(tmp_path):
    _, pa = saved(tmp_path, "a.safetensors", 0, 10)
    with pytest.raises(SystemExit, match="error: .*no_such"):
        main(["--out", str(tmp_path / "avg.safetensors"), str(pa), str(tmp_path / "no_such")])
