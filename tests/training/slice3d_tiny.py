"""Tiny synthetic shards in the data engine's format (spheres, analytic SDFs), for fast tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import trimesh

from backend.geometry import CAMERA_DISTANCE, pixel_rays, slabs_for_bounds


def sphere_render(centre: np.ndarray, radius: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(alpha mask [size,size] bool, entry/exit depths [size,size,2]) of a sphere."""
    rays = pixel_rays(size).reshape(-1, 3)
    d = rays / np.linalg.norm(rays, axis=1, keepdims=True)
    o = np.array([0.0, 0.0, CAMERA_DISTANCE])
    oc = o - centre
    b = d @ oc
    c = oc @ oc - radius**2
    disc = b * b - c
    hit = disc > 0
    sq = np.sqrt(np.clip(disc, 0, None))
    t = np.stack([-b - sq, -b + sq], axis=1)
    return hit.reshape(size, size), (t[:, :, None] * d[:, None, :] + o).reshape(size, size, 2, 3)


def make_sample(rng: np.random.Generator, n_points: int = 512):
    centre = rng.uniform(-0.08, 0.08, 3)
    radius = float(rng.uniform(0.2, 0.33))
    mask, _ = sphere_render(centre, radius, 256)
    image = np.zeros((256, 256, 4), np.uint8)
    image[mask] = (180, 140, 90, 255)
    bmin, bmax = centre - radius, centre + radius
    slabs = slabs_for_bounds(bmin, bmax)
    mask128, ends = sphere_render(centre, radius, 128)
    ts = np.linspace(0, 1, 24)
    seg = ends[:, :, :1] + ts[None, None, :, None] * (ends[:, :, 1:] - ends[:, :, :1])
    slices = np.zeros((12, 128, 128, 2), np.uint8)
    for k, s in enumerate(slabs):
        inside = ((seg[..., s.axis] >= s.lo) & (seg[..., s.axis] < s.hi)).any(-1) & mask128
        slices[k, inside] = (160, 255)
    near = rng.normal(size=(n_points // 2, 3))
    near = centre + near / np.linalg.norm(near, axis=1, keepdims=True) * (
        radius + rng.normal(0, 0.02, (n_points // 2, 1))
    )
    pts = np.concatenate([near, rng.uniform(-0.5, 0.5, (n_points - len(near), 3))])
    sdf = np.linalg.norm(pts - centre, axis=1) - radius
    return {
        "image": image,
        "slices": slices,
        "points": pts.astype(np.float16),
        "sdf": sdf.astype(np.float16),
        "slab_bounds": np.array([[s.lo, s.hi] for s in slabs], np.float32),
        "bbox": np.stack([bmin, bmax]).astype(np.float32),
        "object_to_view": np.eye(4, dtype=np.float32),
        "view": np.zeros(3, np.float32),
        "centre": centre,
        "radius": radius,
    }


def make_tiny_dataset(
    root: Path,
    n_train: int = 8,
    n_val: int = 4,
    n_test: int = 2,
    seed: int = 0,
    n_points: int = 512,
) -> Path:
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "meshes").mkdir(parents=True, exist_ok=True)
    splits: dict[str, list[str]] = {}
    for split, n in (("train", n_train), ("val", n_val), ("test", n_test)):
        samples = [make_sample(rng, n_points) for _ in range(n)]
        ids = [f"{split}_sphere_{i:03d}" for i in range(n)]
        for sid, s in zip(ids, samples, strict=True):
            m = trimesh.creation.icosphere(3, radius=s["radius"])
            m.apply_translation(s["centre"])
            np.savez(
                root / "meshes" / f"{sid}.npz",
                vertices=m.vertices.astype(np.float32),
                faces=m.faces.astype(np.int32),
            )
        (root / split).mkdir(exist_ok=True)
        rel = f"{split}/sphere-00000.npz"
        arrays = {
            k: np.stack([s[k] for s in samples])
            for k in (
                "image",
                "slices",
                "points",
                "sdf",
                "slab_bounds",
                "bbox",
                "object_to_view",
                "view",
            )
        }
        np.savez(
            root / rel,
            **arrays,
            shape_id=np.array(ids),
            source=np.array(["sphere"] * n),
            family=np.array(["sphere"] * n),
        )
        splits[split] = [rel]
    manifest = {
        "version": 1,
        "image_size": 256,
        "slice_size": 128,
        "points_per_sample": n_points,
        "splits": splits,
        "counts": {k: len(v) for k, v in splits.items()},
        "dropped": {},
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


# A network small enough to train a few steps in a test.
TINY = {"channels": [8, 8, 16, 16], "group": 2, "d_model": 16, "heads": 2, "layers": 1, "ff": 32}


def tiny_cfg(**kw) -> dict:
    """A full training config (DEFAULTS) for the tiny network on the tiny shards."""
    from training.config import DEFAULTS

    cfg = dict(DEFAULTS)
    cfg.update(
        {
            "name": "tiny",
            "model": TINY,
            "batch_size": 4,
            "points_per_shape": 64,
            "threads": 1,
            "log_every": 1,
            "eval_every": 2,
            "val_samples": 4,
            "warmup_steps": 1,
            "max_steps": 4,
            "ckpt_minutes": 0.0,
        }
    )
    cfg.update(kw)
    return cfg
