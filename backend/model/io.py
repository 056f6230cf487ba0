"""Save and load Slice3D-compact weights as safetensors (never a pickle).

The model config travels in the safetensors metadata under ``slice3d_config`` (JSON), so a weights
file alone rebuilds the network.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .network import ModelConfig, Slice3DCompact

FORMAT = "slice3d-compact/1"


def save_weights(
    model: Slice3DCompact, path: str | Path, dtype: torch.dtype = torch.float16,
    info: dict | None = None, metadata: dict[str, str] | None = None,
) -> Path:
    """Write the model's weights (cast to ``dtype``), config and extra ``metadata`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in model.state_dict().items()
    }
    meta = {"format": FORMAT, "slice3d_config": json.dumps(model.config.to_dict())}
    if info:
        meta["slice3d_info"] = json.dumps(info)
    meta.update(metadata or {})
    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)
    return path


def read_metadata(path: str | Path) -> dict:
    with safe_open(str(path), framework="pt") as f:  # type: ignore[attr-defined]
        return dict(f.metadata() or {})


def load_weights(
    path: str | Path, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
) -> Slice3DCompact:
    """Rebuild the network from a safetensors file, in eval mode, on ``device``."""
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not Slice3D-compact weights (format {meta.get('format')})")
    config = ModelConfig.from_dict(json.loads(meta["slice3d_config"]))
    model = Slice3DCompact(config)
    state = {}
    with safe_open(str(path), framework="pt") as f:  # type: ignore[attr-defined]
        for k in f.keys():  # noqa: SIM118 - safe_open has no __iter__
            state[k] = f.get_tensor(k)
    model.load_state_dict(
        {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    )
    return model.to(device=device, dtype=dtype).eval()


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
