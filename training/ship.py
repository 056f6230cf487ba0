"""Ship a calibrated fine-tune as the product's weights, carrying the whole training history.

A fine-tune's own info counts only its phase (its steps, hours, samples). The shipped file's
model card numbers must count every phase that made the tensors, so this adds the candidate's
phase onto the history already in the shipped file and keeps the candidate's inference settings
(written by ``training.calibrate``). The file is written in fp16 and replaced atomically.

    python -m training.ship --candidate runs/calib/phaseL.safetensors \\
        --describe "then slice3d_l phase L from those weights (2400 steps, ...)"

An *extension* phase adds tensors and leaves every shipped one as it is (the view fusion trained
alone on the frozen network, issue 35): the shipped network answers one photo exactly as before,
so its calibrated settings, its calibration record and its checkpoint mean still hold and are
kept; such a candidate needs no ``training.calibrate`` run (settings of its own must then equal
the shipped ones, since one photo cannot tell them apart).

    python -m training.ship --candidate runs/multiview/meanmax/model.safetensors \\
        --describe "then the view fusion trained alone on these frozen weights (551 steps)"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from backend.model import load_weights, read_metadata, save_weights
from backend.predictors import NETWORK_WEIGHTS as SHIPPED
from backend.predictors.network import INFERENCE_KEY


def _info(path: Path) -> dict:
    raw = read_metadata(path).get("slice3d_info")
    if not raw:
        raise ValueError(f"{path} has no training info (slice3d_info)")
    return json.loads(raw)


def merged_info(shipped: dict, phase: dict, describe: str, hardware: str | None) -> dict:
    """The shipped history with one more phase added: sums of cost, the phase's own averaging."""
    missing = [k for k in ("hours", "samples_seen", "step") if k not in phase]
    if missing:
        raise ValueError(f"the candidate's info lacks {missing}: is it a training run's output?")
    missing = [k for k in ("hours", "samples_seen", "steps", "run") if k not in shipped]
    if missing:
        raise ValueError(f"the shipped file's info lacks {missing}: it has no history to extend")
    info = {
        "hours": round(shipped["hours"] + phase["hours"], 2),
        "run": f"{shipped['run']}; {describe}",
        "samples_seen": shipped["samples_seen"] + phase["samples_seen"],
        "steps": shipped["steps"] + phase["step"],
        "hardware": hardware or shipped.get("hardware", "unknown"),
    }
    for key in ("averaged_steps", "calibration"):
        if key in phase:
            info[key] = phase[key]
    return info


def _extends(shipped: torch.nn.Module, candidate: torch.nn.Module) -> bool:
    """Whether ``candidate`` holds every shipped tensor unchanged (after the fp16 cast) and more."""
    a, b = shipped.state_dict(), candidate.state_dict()
    return a.keys() < b.keys() and all(
        a[k].shape == b[k].shape and torch.equal(a[k], b[k].half().to(a[k].dtype)) for k in a)


def _same_tensors(shipped: torch.nn.Module, candidate: torch.nn.Module) -> bool:
    """Whether ``candidate``, cast to the shipped fp16, is what ``shipped`` already holds."""
    a, b = shipped.state_dict(), candidate.state_dict()
    return a.keys() == b.keys() and all(
        a[k].shape == b[k].shape and torch.equal(a[k], b[k].half().to(a[k].dtype)) for k in a)


def ship(candidate: Path, describe: str, onto: Path = SHIPPED, hardware: str | None = None) -> dict:
    """Write ``candidate``'s tensors over ``onto`` in fp16 with the merged history; return it."""
    if not describe.strip():
        raise ValueError("--describe must say what the new phase did")
    inference = read_metadata(candidate).get(INFERENCE_KEY)
    model, before = load_weights(candidate), load_weights(onto)
    shipped_info, phase = _info(onto), _info(candidate)
    if _extends(before, model):  # one photo answered as before: its calibration still holds
        kept = read_metadata(onto).get(INFERENCE_KEY)
        if inference and kept and json.loads(inference) != json.loads(kept):
            raise ValueError(f"{candidate} only adds tensors, so one photo cannot have chosen "
                             f"other inference settings than the shipped ones ({kept})")
        inference = inference or kept
        phase = {**{k: shipped_info[k] for k in ("averaged_steps", "calibration")
                    if k in shipped_info}, **phase}
    if not inference:
        raise ValueError(f"{candidate} has no inference settings: run training.calibrate first")
    info = merged_info(shipped_info, phase, describe, hardware)
    if _same_tensors(before, model):
        raise ValueError(f"{candidate} is already shipped in {onto}: its phase would count twice")
    save_weights(model, onto, dtype=torch.float16, info=info, metadata={INFERENCE_KEY: inference})
    return info


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", type=Path, required=True, help="training.calibrate's output")
    ap.add_argument("--describe", required=True, help="one clause on what the new phase did")
    ap.add_argument("--onto", type=Path, default=SHIPPED, help="the shipped file to extend")
    ap.add_argument("--hardware", help="replaces the hardware line (default: kept)")
    args = ap.parse_args(argv)
    try:
        info = ship(args.candidate, args.describe, args.onto, args.hardware)
    except (ValueError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps(info, indent=1))
    print(f"wrote {args.onto}: {info['steps']} steps, {info['hours']} h in all")


if __name__ == "__main__":
    main()
