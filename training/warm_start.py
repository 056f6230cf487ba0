"""Start a network of a changed config from trained weights (config key ``init_weights``).

Parameters of the same shape are copied. The first layers of the coordinate token and of the
slice tokens are mapped input by input, so their config may change: inputs that both configs have
keep their weights, dropped ones go, and new inputs (more octaves, the global code, the slice
branch's grey/alpha/slab inputs) start at zero, which leaves the network's output where the
trained one had it apart from what was dropped. So the no-slice ablation can start from a
trained slice network (its image features kept, the slice inputs dropped) and the reverse.

A layer that grew (a wider feed-forward block, say) keeps the trained block in its corner: new
output units keep their fresh initialisation, new inputs start at zero. Widening a hidden layer
that way leaves the output unchanged, since whatever the new units compute is read with zero
weights; the run can then put the extra width to use. A grown normalisation (a wider d_model)
is copied the same way but does not keep the output: its statistics take in the new channels.
"""

from __future__ import annotations

from pathlib import Path

import torch

from backend.model import ModelConfig, Slice3DCompact, load_weights

COORD_WEIGHT = "coord_tok.0.weight"
TOKEN_WEIGHT = "slice_tok.0.weight"


def coordinate_inputs(cfg: ModelConfig) -> dict[str, int]:
    """Column index of every coordinate-token input, by name (same order as ``query``)."""
    n, c1, c3 = cfg.fourier, cfg.channels[1], cfg.encoder_widths()[3]
    names = [f"xyz{i}" for i in range(3)]
    names += [f"sin{c}_{f}" for c in range(3) for f in range(n)]
    names += [f"cos{c}_{f}" for c in range(3) for f in range(n)]
    names += [f"ctx{i}" for i in range(c1)] + [f"img{i}" for i in range(4)]
    names += [f"rel{i}" for i in range(3)]
    if cfg.global_code:
        names += [f"global{i}" for i in range(c3)]
    return {name: i for i, name in enumerate(names)}


def token_inputs(cfg: ModelConfig) -> dict[str, int]:
    """Column index of every slice-token input, by name (same order as ``query``)."""
    names = [f"fmap{i}" for i in range(cfg.group)]
    if cfg.slices:
        names += ["grey", "alpha", "slab"]
    return {name: i for i, name in enumerate(names)}


INPUT_MAPS = {COORD_WEIGHT: coordinate_inputs, TOKEN_WEIGHT: token_inputs}


@torch.no_grad()
def warm_start(model: Slice3DCompact, path: str | Path) -> list[str]:
    """Copy trained weights from ``path`` into ``model``; returns the parameters left as built."""
    old = load_weights(path)
    old_state, new_state = old.state_dict(), model.state_dict()
    fresh = []
    for key, value in new_state.items():
        if key in INPUT_MAPS:
            src, dst = INPUT_MAPS[key](old.config), INPUT_MAPS[key](model.config)
            value.zero_()
            for name, j in dst.items():
                if name in src:
                    value[:, j] = old_state[key][:, src[name]]
        elif key in old_state and old_state[key].shape == value.shape:
            value.copy_(old_state[key])
        elif key in old_state and _grew(old_state[key].shape, value.shape):
            _embed(old_state[key], value)
        else:
            fresh.append(key)
    return fresh


def _grew(old: torch.Size, new: torch.Size) -> bool:
    return len(old) == len(new) and all(o <= n for o, n in zip(old, new, strict=True))


def _embed(old: torch.Tensor, new: torch.Tensor) -> None:
    """The trained block into the corner of a grown tensor; new inputs (dim 1) silenced."""
    if new.dim() >= 2:
        new[:, old.shape[1]:] = 0
    new[tuple(slice(0, n) for n in old.shape)] = old
