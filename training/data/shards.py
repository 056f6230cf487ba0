"""Shard files, shape splits and the manifest: the format the model trainer reads."""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from training.data.mesh import ShapeMesh
from training.data.pipeline import IMAGE_SIZE, POINTS, SLICE_SIZE

SPLITS = ("train", "val", "test")
TEST_PERCENT, VAL_PERCENT = 8, 4
ARRAY_KEYS = ("image", "slices", "points", "sdf", "slab_bounds", "bbox", "object_to_view", "view")
STRING_KEYS = ("shape_id", "source", "family")
OPTIONAL_KEYS = ("colors",)  # uint8 [N, P, 4] surface colours; older shards lack it


def split_of(shape_id: str) -> str:
    """Split by shape (never by view), from a hash of the id: stable across runs and machines."""
    h = int.from_bytes(hashlib.sha1(shape_id.encode()).digest()[:4], "little") % 100
    return "test" if h < TEST_PERCENT else "val" if h < TEST_PERCENT + VAL_PERCENT else "train"


def assign_splits(ids: list[str]) -> dict[str, str]:
    """Hash splits, then make sure every source with >= 3 shapes has a test and a val shape."""
    out = {i: split_of(i) for i in ids}
    for split in ("test", "val"):
        if len(ids) >= 3 and split not in out.values():
            for i in sorted(ids, key=lambda s: hashlib.sha1(s.encode()).hexdigest()):
                if out[i] == "train":
                    out[i] = split
                    break
    return out


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    write(tmp)
    os.replace(tmp, path)


def write_shard(path: Path, samples: list[dict]) -> None:
    """np.savez_compressed of N stacked samples, written atomically (resumable builds); an
    OPTIONAL_KEYS array is written when every sample has it."""
    arrays = {k: np.stack([s[k] for s in samples]) for k in ARRAY_KEYS}
    for k in OPTIONAL_KEYS:
        if all(k in s for s in samples):
            arrays[k] = np.stack([s[k] for s in samples])
    arrays.update({k: np.array([s[k] for s in samples], dtype=np.str_) for k in STRING_KEYS})

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    _atomic_write(path, write)


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Rewrite a whole shard from its arrays, atomically (the ``colors`` backfill)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    _atomic_write(path, write)


def write_mesh(path: Path, mesh: ShapeMesh) -> None:
    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f, vertices=mesh.vertices.astype(np.float32), faces=mesh.faces.astype(np.int32)
            )

    _atomic_write(path, write)


def write_json(path: Path, obj: dict) -> None:
    _atomic_write(path, lambda tmp: tmp.write_text(json.dumps(obj, indent=1, sort_keys=True)))


def write_manifest(out: Path, points: int = POINTS) -> dict:
    """Rebuild manifest.json from the shards' sidecar files (so partial builds stay usable)."""
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    counts: dict = {s: defaultdict(lambda: defaultdict(int)) for s in SPLITS}
    dropped: dict = defaultdict(lambda: defaultdict(int))
    planned = None
    if (out / "plan.json").exists():  # sidecars of shards no longer planned are ignored
        planned = {u["path"] for u in json.loads((out / "plan.json").read_text())["units"]}
    for side in sorted(out.glob("*/*.json")):
        if planned is not None and f"{side.parent.name}/{side.stem}.npz" not in planned:
            continue
        info = json.loads(side.read_text())
        split = info["split"]
        for reason, n in info["dropped"].items():
            dropped[info["source"]][reason] += n
        if info["samples"] == 0:
            continue
        splits[split].append(f"{split}/{side.stem}.npz")
        for fam, n in info["families"].items():
            counts[split][info["source"]][fam] += n
    manifest = {
        "version": 1,
        "image_size": IMAGE_SIZE,
        "slice_size": SLICE_SIZE,
        "points_per_sample": points,
        "splits": splits,
        "counts": json.loads(json.dumps(counts)),
        "dropped": json.loads(json.dumps(dropped)),
    }
    write_json(out / "manifest.json", manifest)
    return manifest


def read_shard(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
