"""Average the weights of several checkpoints of one run into one network (weight averaging).

Checkpoints taken along the tail of a cosine schedule sit around one minimum; their mean often
lies nearer its centre than any one of them, at no cost at inference. Whether it helps here is
measured on the validation split (docs/MODEL.md), not assumed.

    python -m training.average_weights --out runs/slice3d_g/model_avg.safetensors \\
        runs/slice3d_g/snapshots/*.safetensors
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from backend.model import load_weights, read_metadata, save_weights


def average_weights(paths: list[Path], out: Path) -> dict:
    """Write the element-wise mean of the networks in ``paths`` to ``out``; return its info."""
    if len(paths) < 2:
        raise ValueError(f"need at least two checkpoints to average, got {len(paths)}")
    models = [load_weights(p) for p in paths]
    config = models[0].config
    for p, m in zip(paths[1:], models[1:], strict=True):
        if m.config != config:
            raise ValueError(f"{p} is a different network ({m.config}) from {paths[0]} ({config})")
    states = [m.state_dict() for m in models]
    mean = {k: torch.stack([s[k].float() for s in states]).mean(0).to(states[0][k].dtype)
            for k in states[0]}
    model = models[-1]
    model.load_state_dict(mean)
    infos = [json.loads(read_metadata(p).get("slice3d_info", "{}")) for p in paths]
    info = dict(infos[-1])
    info["averaged_steps"] = [i.get("step") for i in infos]
    save_weights(model, out, dtype=torch.float32, info=info)
    return info


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+", type=Path, help="model.safetensors files of one run")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    try:
        info = average_weights(args.checkpoints, args.out)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {args.out}: mean of steps {info['averaged_steps']}")


if __name__ == "__main__":
    main()
