"""Carry a training set to a machine that cannot build one: the train and val splits of data
folders, framed and pooled as training reads them, with fewer SDF points, in one compressed file.

A lent GPU machine takes a 64 MiB working tree and cannot run the data engine (no renderer, no
mesh sources), so the set must travel. Images (white background) and slices (mostly empty) pack
well; the SDF points do not, so their number per sample is what sizes the file.

    python -m training.pack --data data/v1 --points 1024 --out .carry/v1_p1024.npz
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from training.dataset import ShardSet, concat_sets, keep_sources, load_pack, load_split

# load_pack and keep_sources live with the other readers in training.dataset
__all__ = ["keep_sources", "load_pack", "main", "parse_caps", "subsample_points", "write_pack"]

SPLITS = ("train", "val")


def subsample_points(data: ShardSet, points: int, seed: int = 0) -> ShardSet:
    """Keep ``points`` SDF points per sample, a random subset (shards store near-surface points
    first, so a prefix would drop the uniform ones)."""
    p = data.points.shape[1]
    if points >= p:
        return data
    rng = np.random.default_rng(seed)
    pick = np.stack([np.sort(rng.choice(p, size=points, replace=False)) for _ in range(len(data))])
    rows = np.arange(len(data))[:, None]
    fields = {k: getattr(data, k) for k in ShardSet.__dataclass_fields__}
    fields["points"] = data.points[rows, pick]
    fields["sdf"] = data.sdf[rows, pick]
    if data.colors is not None:  # per point too: the colour of each kept point stays its own
        fields["colors"] = data.colors[rows, pick]
    return ShardSet(**fields)


def parse_caps(items: list[str]) -> dict[str, int]:
    """["pybullet=400"] -> {"pybullet": 400}."""
    caps = {}
    for item in items:
        name, sep, n = item.partition("=")
        if not sep or not n.isdigit():
            raise SystemExit(f"error: --cap takes SOURCE=N, got {item!r}")
        caps[name] = int(n)
    return caps


def write_pack(splits: dict[str, ShardSet], out: Path, compress: bool = True) -> int:
    """Save ``{split: ShardSet}`` to ``out`` (written whole, then renamed); return its size.
    ``compress=False``: a pack written and read back on one machine, in seconds."""
    # A field a set does not have (object_to_view of a set read from an older pack) is left out,
    # never pickled: a pack holds plain arrays only, and load_pack reads it back as None.
    arrays = {f"{split}/{k}": getattr(data, k)
              for split, data in splits.items() for k in ShardSet.__dataclass_fields__
              if getattr(data, k) is not None}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as f:
        (np.savez_compressed if compress else np.savez)(f, **arrays)
    tmp.replace(out)
    return out.stat().st_size


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", required=True, help="data folders (train is their union)")
    ap.add_argument("--points", type=int, default=1024, help="SDF points kept per sample")
    ap.add_argument("--sources", nargs="*", default=None, help="keep only these train sources")
    ap.add_argument("--cap", nargs="*", default=[], help="SOURCE=N: at most N samples of it")
    ap.add_argument("--val-samples", type=int, default=96)
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    caps = parse_caps(args.cap)
    train = concat_sets([load_split(d, "train", args.input_size) for d in args.data])
    train = subsample_points(keep_sources(train, args.sources, caps), args.points)
    val = load_split(args.data[0], "val", args.input_size, args.val_samples)
    size = write_pack({"train": train, "val": val}, args.out)
    print(f"wrote {args.out}: {len(train)} train + {len(val)} val samples, "
          f"{args.points} points each, {size / 2**20:.1f} MiB", flush=True)


if __name__ == "__main__":
    main()
