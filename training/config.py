"""Training configs: the defaults, inheritance (``"extends"``) and key validation.

A config is a JSON object of keys from :data:`DEFAULTS`. It may name a parent with
``"extends": "other.json"`` (a path relative to the file that says it); the child is merged over
its parent, the ``"model"`` dict key by key (so a variant names only the network settings it
changes), every other value replaced whole (a child's ``data`` list or ``source_weights`` is
the one the run gets). Chains may be any length; a cycle is refused, and so is a key the trainer
does not know, since a misspelt key would otherwise train silently with its default.
"""

from __future__ import annotations

import json
from pathlib import Path

from backend.model.network import SAMPLINGS

DEFAULTS = {
    "name": "slice3d_compact",
    "data": "data/v1",
    "val_data": "",  # the folder whose val split validates the run; "" = the first data folder
    "seed": 0,
    "model": {},
    "batch_size": 16,
    "points_per_shape": 256,
    "lr": 3e-4,
    "min_lr_frac": 0.1,
    # {"side.": 10}: parameters whose name starts with a key train at the lr times its value (a
    # part added to a trained network, which a warm start left silent, may move faster)
    "lr_scale": {},
    "warmup_steps": 100,
    "decay_from": 0,  # constant lr until this step, then cosine down to min_lr_frac at max_steps
    "max_steps": 100_000,
    "grad_clip": 1.0,
    "sdf_clamp": 0.3,  # > the coarse-to-fine band, so free space reads as far
    "w_sdf": 10.0,
    "w_slice": 1.0,
    "w_bbox": 1.0,
    "w_slice_dice": 0.0,  # soft Dice on slice alpha: L1 alone lets the sparse X/Y slices go empty
    "augment": 0.0,  # strength of photometric augmentation (0 = off, 1 = the photo-like range)
    "w_sign": 1.0,  # BCE on inside/outside with logit -sdf / sign_temp: keeps the sign honest
    "sign_temp": 0.02,
    "feature_sampling": "bilinear",  # how point features are read from the maps (SAMPLINGS)
    "threads": 2,
    "autocast": "none",  # "none" | "bf16" (CPU) | "fp16" (CUDA)
    "device": "auto",
    "log_every": 20,
    "eval_every": 250,
    "val_samples": 64,
    "ckpt_minutes": 5.0,
    "snapshot_from": 0,  # > 0: every checkpoint from this step on also lands in snapshots/
    "max_train_samples": 0,  # 0 = all (per data folder)
    "train_sources": [],  # train on these sources only (e.g. the real-mesh ones); [] = all
    "source_weights": {},  # e.g. {"0ad": 3}: each 0ad sample comes 3 times per epoch (default 1)
    "init_weights": "",  # start a fresh run from these weights (training.warm_start)
    "init_encoder": "",  # an ImageNet trunk (training.pretrained): the encoder or side encoder
    # photos per batch item, [least, most], the reference included; above [1, 1] the network
    # needs a view fusion (model key view_fusion) and the data object_to_view (issue 35)
    "views": [1, 1],
    "train_only_fusion": False,  # freeze everything but the view fusion (the one-view net stays)
    # freeze everything but the colour head (model key colour_head): the SDF stays bit for bit;
    # its loss is the L1 of sRGB colour on known points within colour_band of the surface
    "train_only_colour": False,
    "colour_band": 0.02,
}
MAX_TRAIN_VIEWS = 4  # the data engine renders 4 views of a shape
MERGED_KEYS = ("model",)  # merged key by key over the parent; every other key replaces


def check_source_weights(weights: dict[str, int]) -> None:
    """Fail before the data loads (minutes) when a weight is not a whole number >= 1."""
    for name, k in weights.items():
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"source_weights[{name!r}] must be a whole number >= 1, got {k!r}")


def merge(parent: dict, child: dict) -> dict:
    """``child`` over ``parent``: the ``model`` dict key by key, every other key replaced."""
    out = dict(parent)
    for k, v in child.items():
        if k in MERGED_KEYS and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def read_chain(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """The file's keys merged over its ``extends`` chain (without DEFAULTS); ``extends`` removed."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(str(p.name) for p in (*_seen, path))
        raise ValueError(f"{path}: 'extends' makes a cycle: {chain}")
    given = json.loads(path.read_text())
    if not isinstance(given, dict):
        raise ValueError(f"{path}: a config is a JSON object")
    parent_name = given.pop("extends", None)
    if parent_name is None:
        return given
    if not isinstance(parent_name, str) or not parent_name:
        raise ValueError(f"{path}: 'extends' takes one relative path, got {parent_name!r}")
    parent = read_chain(path.parent / parent_name, (*_seen, path))
    return merge(parent, given)


def validate(cfg: dict, where: str | Path) -> None:
    """Refuse unknown keys, bad source weights and an unknown feature sampling."""
    unknown = sorted(set(cfg) - set(DEFAULTS))
    if unknown:
        raise ValueError(f"{where}: unknown config keys {unknown}; known keys: {sorted(DEFAULTS)}")
    check_source_weights(cfg["source_weights"])
    check_lr_scale(cfg["lr_scale"], where)
    if cfg["feature_sampling"] not in SAMPLINGS:
        raise ValueError(f"{where}: feature_sampling must be one of {SAMPLINGS}")
    check_views(cfg, where)
    check_colour(cfg, where)


def check_lr_scale(scale: dict, where: str | Path) -> None:
    """``lr_scale`` maps parameter-name prefixes to multipliers above 0."""
    if not isinstance(scale, dict):
        raise ValueError(f"{where}: lr_scale maps parameter-name prefixes to multipliers, "
                         f"got {scale!r}")
    for prefix, k in scale.items():
        if not prefix or isinstance(k, bool) or not isinstance(k, int | float) or not k > 0:
            raise ValueError(f"{where}: lr_scale[{prefix!r}] must be a number above 0 for a "
                             f"non-empty prefix, got {k!r}")


def check_colour(cfg: dict, where: str | Path) -> None:
    """Training the colour head alone needs a network with one, one photo per item and a band
    above zero; and it cannot be combined with training the view fusion alone."""
    if not cfg["train_only_colour"]:
        return
    if cfg["model"].get("colour_head", "none") == "none":
        raise ValueError(f"{where}: train_only_colour needs a network with a colour head: "
                         "set model.colour_head (e.g. \"mlp\")")
    if cfg["train_only_fusion"] or cfg["views"] != [1, 1]:
        raise ValueError(f"{where}: train_only_colour trains the colour head on one photo per "
                         "item: leave train_only_fusion off and views at [1, 1]")
    if not cfg["colour_band"] > 0:
        raise ValueError(f"{where}: colour_band is a distance above 0, not {cfg['colour_band']!r}")


def check_views(cfg: dict, where: str | Path) -> None:
    """``views`` is [least, most] photos with 1 <= least <= most <= 4, and training the view
    fusion alone needs a network that has one."""
    views = cfg["views"]
    if (not isinstance(views, list) or len(views) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in views)
            or not 1 <= views[0] <= views[1] <= MAX_TRAIN_VIEWS):
        raise ValueError(f"{where}: views must be [least, most] photos per item with "
                         f"1 <= least <= most <= {MAX_TRAIN_VIEWS}, got {views!r}")
    if cfg["train_only_fusion"] and views[1] == 1:
        raise ValueError(f"{where}: train_only_fusion trains the view fusion alone, which one "
                         "photo never uses: set views to [1, 4] (or any most above 1)")
    fusion = cfg["model"].get("view_fusion", "none")
    if (views[1] > 1 or cfg["train_only_fusion"]) and fusion == "none":
        raise ValueError(f"{where}: views {views} and train_only_fusion need a network with a "
                         "view fusion: set model.view_fusion (e.g. \"meanmax\")")


def load_config(path: str | Path) -> dict:
    """DEFAULTS updated by the file and its ``extends`` chain, validated."""
    given = read_chain(path)
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:  # before merging, so the message names the file's own misspelling
        raise ValueError(f"{path}: unknown config keys {unknown}; known keys: {sorted(DEFAULTS)}")
    cfg = merge(DEFAULTS, given)
    validate(cfg, path)
    return cfg


def parse_overrides(items: list[str]) -> dict:
    """``["seed=1", "lr=1e-4", "name=proof/A"]`` -> values (JSON where they parse, else text)."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or key not in DEFAULTS:
            raise ValueError(f"--set takes KEY=VALUE with a known key, got {item!r}")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out
