"""Training data in memory: shards read and framed as the backend frames a photo, packs, batches.

A split is read once into a :class:`ShardSet` (images already framed to the network's input
size, slices pooled to its feature-map size). Batches are a pure function of (seed, step):
epochs are seeded permutations (``batch_indices``), and a batch's point draw and photometric
augmentation come from a generator seeded by the step, so a resumed run sees exactly the batches
an uninterrupted one would have.

Several views (issue 35): the samples of one shape are consecutive (the data engine writes a
shape's views together), and ``object_to_view`` relates them, so a batch item may bring 0..3
other samples of its shape as extra photos (``pick_views``), drawn from the same step-seeded
generator after everything a single-view batch draws: single-view batches stay as they were.

Surface colours (issue 34): shards may carry ``colors`` (uint8 [N,P,4], aligned with ``points``:
the sRGB albedo of each point's nearest surface point, alpha 255 where known, 0 where not).
Shards without the key read as all unknown. Batches carry colours only when asked
(``colour_band``), and then draw their points among the known near-surface ones.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F

from backend.framing import to_model_input
from training.config import check_source_weights


@dataclass
class ShardSet:
    """A split held in memory, ready for batching (images already framed as the backend does)."""

    image: np.ndarray  # uint8 [N,S,S,4]: to_model_input(...) * 255, RGB on white
    slices: np.ndarray  # uint8 [N,12,2,s,s] at the feature-map resolution
    points: np.ndarray  # float16 [N,P,3]
    sdf: np.ndarray  # float16 [N,P]
    bbox: np.ndarray  # float32 [N,2,3]
    shape_id: np.ndarray
    source: np.ndarray
    # float32 [N,4,4] object frame -> view frame; None for packs made before it was kept (they
    # still train a single view)
    object_to_view: np.ndarray | None = None
    # uint8 [N,P,4] sRGB albedo + known (255) / unknown (0) per point; None for packs without it
    colors: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.image)

    def select(self, rows) -> ShardSet:
        """The samples at ``rows`` (an index, a slice or a mask), every array alike."""
        return ShardSet(**{k: None if v is None else v[rows] for k, v in self.arrays().items()})

    def arrays(self) -> dict[str, np.ndarray | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def frame_images(images: np.ndarray, size: int) -> np.ndarray:
    return np.stack(
        [np.round(to_model_input(im, size) * 255.0).astype(np.uint8) for im in images]
    )


def pool_slices(slices: np.ndarray, size: int) -> np.ndarray:
    """uint8 [N,12,H,W,2] -> uint8 [N,12,2,size,size] (box filter)."""
    n, k, h, w, c = slices.shape
    f = h // size
    x = slices.reshape(n, k, size, f, size, f, c).astype(np.float32).mean(axis=(3, 5))
    return np.round(x).astype(np.uint8).transpose(0, 1, 4, 2, 3).copy()


def load_split(
    data_dir: str | Path, split: str, input_size: int = 128, limit: int = 0,
    verbose: bool = True,
) -> ShardSet:
    data_dir = Path(data_dir)
    manifest = json.loads((data_dir / "manifest.json").read_text())
    parts: dict[str, list] = {k: [] for k in ShardSet.__dataclass_fields__}
    total = 0
    t0 = time.time()
    for rel in manifest["splits"].get(split, []):
        with np.load(data_dir / rel, allow_pickle=False) as z:
            parts["image"].append(frame_images(z["image"], input_size))
            parts["slices"].append(pool_slices(z["slices"], input_size // 2))
            parts["points"].append(z["points"].astype(np.float16))
            parts["sdf"].append(z["sdf"].astype(np.float16))
            parts["bbox"].append(z["bbox"].astype(np.float32))
            parts["shape_id"].append(z["shape_id"].astype(str))
            parts["source"].append(z["source"].astype(str))
            parts["object_to_view"].append(z["object_to_view"].astype(np.float32))
            parts["colors"].append(shard_colours(z))
        total += len(parts["image"][-1])
        if limit and total >= limit:
            break
    if not parts["image"]:
        raise FileNotFoundError(f"no {split!r} shards in {data_dir}")
    out = ShardSet(**{k: np.concatenate(v) for k, v in parts.items()})
    if limit:
        out = out.select(slice(0, limit))
    if verbose:
        print(f"loaded {split}: {len(out)} samples from {data_dir} in {time.time() - t0:.0f}s",
              flush=True)
    return out


def shard_colours(shard) -> np.ndarray:
    """A shard's ``colors`` (uint8 [N,P,4]), or all unknown (zeros) for a shard made before
    the data engine kept them."""
    if "colors" in shard.files:
        return np.asarray(shard["colors"], np.uint8)
    n, p = shard["sdf"].shape
    return np.zeros((n, p, 4), np.uint8)


def load_pack(path: str | Path, split: str, limit: int = 0,
              input_size: int | None = None) -> ShardSet:
    """One split of a pack, as ``load_split`` would have read it. A pack holds
    images framed at one size, so a network of another ``input_size`` is refused."""
    with np.load(path, allow_pickle=False) as z:
        if f"{split}/image" not in z.files:
            raise FileNotFoundError(f"no {split!r} split in {path}")
        data = ShardSet(**{k: z[f"{split}/{k}"] for k in ShardSet.__dataclass_fields__
                           if f"{split}/{k}" in z.files})
    if input_size is not None and data.image.shape[1] != input_size:
        raise ValueError(f"{path} holds {data.image.shape[1]} px images; this network reads "
                         f"{input_size} px: pack the data again with --input-size {input_size}")
    if limit:
        data = data.select(slice(0, limit))
    print(f"loaded {split}: {len(data)} samples from {path}", flush=True)
    return data


def read_split(source: Path, split: str, input_size: int, limit: int = 0) -> ShardSet:
    """A data folder, or a pack (``training.pack``: a ``.npz`` file carried to a GPU machine)."""
    if Path(source).suffix == ".npz":
        return load_pack(source, split, limit, input_size)
    return load_split(source, split, input_size, limit)


def concat_sets(sets: list[ShardSet]) -> ShardSet:
    """One training set from several data folders. A shape already read from an earlier folder
    is left out of the later ones, so a folder that extends a source (more 0ad shapes, say)
    does not count the shapes it shares with another twice."""
    if len(sets) == 1:
        return sets[0]
    seen: set[str] = set()
    kept = []
    for s in sets:
        ids = s.shape_id.astype(str)
        new = ~np.isin(ids, list(seen))
        seen.update(ids.tolist())
        kept.append(s if new.all() else s.select(new))
    sets = [s for s in kept if len(s)]
    p = min(s.points.shape[1] for s in sets)
    out: dict[str, np.ndarray | None] = {}
    for k in ShardSet.__dataclass_fields__:
        arrs = [getattr(s, k) for s in sets]
        if any(a is None for a in arrs):  # poses only where every set has them
            out[k] = None
            continue
        if k in ("points", "sdf", "colors"):  # different points per sample: a common subset
            arrs = [a[:, np.random.default_rng(0).permutation(a.shape[1])[:p]] for a in arrs]
        out[k] = np.concatenate(arrs)
    return ShardSet(**out)


def keep_sources(data: ShardSet, sources: list[str] | None, caps: dict[str, int]) -> ShardSet:
    """Only ``sources`` (all when None), and at most ``caps[source]`` samples of a source: its
    first ones, so the views of one shape stay together."""
    src = data.source.astype(str)
    keep = np.isin(src, sources) if sources else np.ones(len(src), bool)
    for name, cap in caps.items():
        keep &= ~((src == name) & (np.cumsum(src == name) > cap))
    return data.select(keep)


def batch_indices(n: int, step: int, batch: int, seed: int) -> np.ndarray:
    """Sample indices of ``step``: epochs are seeded permutations, so resume is exact."""
    start = step * batch
    out = []
    while len(out) < batch:
        epoch, pos = divmod(start + len(out), n)
        perm = np.random.default_rng([seed, epoch]).permutation(n)
        take = min(batch - len(out), n - pos)
        out.extend(perm[pos : pos + take])
    return np.asarray(out)


def sampling_order(sources: np.ndarray, weights: dict[str, int]) -> np.ndarray:
    """Sample indices of one weighted epoch: a sample of a source of weight k appears k times.

    Integer repeats keep epochs as seeded permutations, so resume stays exact; with no weights
    the order is the identity and a run batches exactly as it did before weights existed.
    """
    check_source_weights(weights)
    missing = sorted(set(weights) - {str(s) for s in sources})
    if missing:  # a misspelt source would otherwise weigh nothing, silently
        raise ValueError(f"source_weights names {missing}, not in the training data "
                         f"(sources: {sorted({str(s) for s in sources})})")
    reps = np.array([weights.get(str(s), 1) for s in sources], dtype=np.int64)
    return np.repeat(np.arange(len(sources)), reps)


def augment_images(image: torch.Tensor, rng: np.random.Generator, strength: float) -> torch.Tensor:
    """Photo-like changes to the object's pixels [B,4,S,S]: exposure, contrast, saturation, white
    balance, blur and sensor noise. Alpha and geometry stay as they are (the targets do not move).

    Renders are clean and evenly lit; photos are not, so the network must not key on exact shading.
    """
    b, dev = image.shape[0], image.device
    rgb, alpha = image[:, :3], image[:, 3:]

    def u(lo: float, hi: float, shape: tuple = (b, 1, 1, 1)) -> torch.Tensor:
        return torch.from_numpy(rng.uniform(lo, hi, size=shape).astype(np.float32)).to(dev)

    s = strength
    grey = rgb.mean(dim=1, keepdim=True)
    rgb = grey + (rgb - grey) * u(1 - 0.6 * s, 1 + 0.4 * s)  # saturation
    mean = (rgb * alpha).sum(dim=(1, 2, 3), keepdim=True) / (3 * alpha.sum(dim=(1, 2, 3),
                                                                          keepdim=True) + 1e-6)
    rgb = mean + (rgb - mean) * u(1 - 0.4 * s, 1 + 0.3 * s)  # contrast
    rgb = rgb * u(1 - 0.35 * s, 1 + 0.3 * s) * u(1 - 0.1 * s, 1 + 0.1 * s, (b, 3, 1, 1))
    blur_rows = rng.uniform(size=b) < 0.3 * s  # tested here, not on the device: no sync
    blur = torch.from_numpy(blur_rows).to(dev)
    if blur_rows.any():
        soft = F.avg_pool2d(F.pad(rgb, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        rgb = torch.where(blur[:, None, None, None], soft, rgb)
    # the noise is drawn where the image is: on a GPU, numpy's draw was most of a step's time
    gen = torch.Generator(device=dev).manual_seed(int(rng.integers(2**62)))
    rgb = rgb + torch.randn(rgb.shape, generator=gen, device=dev) * u(0, 0.03 * s)
    rgb = rgb.clamp(0, 1) * alpha + (1 - alpha)  # background stays white, as the backend makes it
    return torch.cat([rgb, alpha], dim=1)


def shape_runs(shape_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per sample: the first index and the length of the run of consecutive samples of its
    shape (its views)."""
    ids = np.asarray(shape_id).astype(str)
    n = len(ids)
    new = np.ones(n, bool)
    new[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, n))
    run = np.cumsum(new) - 1
    return starts[run], lengths[run]


def pick_views(data: ShardSet, idx: np.ndarray, views: tuple[int, int],
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """For each reference sample, ``views[0]..views[1]`` photos in all (itself included, fewer
    where its shape has fewer views): the other samples [B,K] (K = most extra views asked for;
    padded with the reference itself) and which of them are real [B,K]."""
    lo, hi = views
    k = hi - 1
    starts, lengths = shape_runs(data.shape_id)
    others = np.repeat(idx[:, None], max(k, 0), axis=1)
    present = np.zeros((len(idx), max(k, 0)), bool)
    for row, i in enumerate(idx):
        want = int(rng.integers(lo - 1, hi))  # extra views for this item
        pool = [j for j in range(starts[i], starts[i] + lengths[i]) if j != i]
        chosen = rng.permutation(pool)[: min(want, len(pool))]
        others[row, : len(chosen)] = chosen
        present[row, : len(chosen)] = True
    return others, present


def view_transforms(object_to_view: np.ndarray, idx: np.ndarray,
                    others: np.ndarray) -> np.ndarray:
    """[B,K,4,4] maps from each reference's view frame to its other views' frames:
    ``object_to_view[other] @ inv(object_to_view[reference])`` (the per-view scale included)."""
    ref = np.linalg.inv(object_to_view[idx].astype(np.float64))  # [B,4,4]
    return (object_to_view[others].astype(np.float64) @ ref[:, None]).astype(np.float32)


def colour_points(data: ShardSet, i: int, band: float) -> np.ndarray:
    """Indices of sample i's points with a known colour within ``band`` of the surface."""
    if data.colors is None:
        return np.zeros(0, np.int64)
    near = np.abs(data.sdf[i].astype(np.float32)) < band
    return np.flatnonzero(near & (data.colors[i, :, 3] > 127))


def with_colours(data: ShardSet, band: float) -> ShardSet:
    """Only the samples with a known colour within ``band`` of the surface (a colour run
    learns nothing from the others); refused when there are none."""
    if data.colors is None:
        raise ValueError("colour training needs shards with colors, and this data has none")
    near = np.abs(data.sdf.astype(np.float32)) < band
    keep = (near & (data.colors[..., 3] > 127)).any(axis=1)
    if not keep.any():
        raise ValueError(f"no sample has a known colour within {band} of its surface "
                         "(shards made before the data engine kept colours)")
    return data.select(keep)


def make_batch(data: ShardSet, idx: np.ndarray, n_points: int, rng: np.random.Generator,
               device: torch.device, augment: float = 0.0,
               views: tuple[int, int] = (1, 1), colour_band: float = 0.0,
               ) -> dict[str, torch.Tensor]:
    """One batch; with ``views`` above (1, 1) also ``views_image`` [B*K,4,S,S] (object b's K
    extra photos consecutive), ``views_transform`` [B,K,4,4], ``views_present`` [B,K] and the
    samples' indices ``index`` [B] and ``views_index`` [B*K].

    ``colour_band`` > 0: the points are drawn among each sample's points with a known colour
    within that distance of the surface (all its points where it has none), and the batch also
    holds ``colour`` [B,N,3] (sRGB 0..1), ``colour_known`` [B,N] (1 known, 0 not) and ``index``."""
    p = data.points.shape[1]
    if colour_band > 0:
        if data.colors is None or data.colors.shape[:2] != data.points.shape[:2]:
            raise ValueError("colour training needs colors aligned with points (uint8 [N,P,4]); "
                             "this data has none or a different number of points")
        pools = [colour_points(data, int(i), colour_band) for i in idx]
        pick = np.stack([pool[rng.choice(len(pool), size=n_points, replace=n_points > len(pool))]
                         if len(pool) else rng.choice(p, size=n_points, replace=n_points > p)
                         for pool in pools])
    else:
        pick = np.stack([rng.choice(p, size=n_points, replace=n_points > p) for _ in idx])
    rows = idx[:, None]
    # bytes travel to the device and become floats there (4x less to copy, no CPU work)
    image = torch.from_numpy(data.image[idx]).to(device).permute(0, 3, 1, 2).float() / 255.0
    if augment > 0:
        image = augment_images(image, rng, augment)
    batch = {
        "image": image,
        "slices": torch.from_numpy(data.slices[idx]).to(device).float().flatten(1, 2) / 255.0,
        "points": torch.from_numpy(data.points[rows, pick].astype(np.float32)),
        "sdf": torch.from_numpy(data.sdf[rows, pick].astype(np.float32)),
        "bbox": torch.from_numpy(data.bbox[idx]),
    }
    if colour_band > 0:
        rgba = cast(np.ndarray, data.colors)[rows, pick]
        batch["colour"] = torch.from_numpy(rgba[..., :3].astype(np.float32) / 255.0)
        batch["colour_known"] = torch.from_numpy((rgba[..., 3] > 127).astype(np.float32))
        batch["index"] = torch.from_numpy(np.asarray(idx, np.int64))
    if views[1] > 1:
        if data.object_to_view is None:
            raise ValueError("training with several views needs object_to_view, and this data "
                             "has none (a pack made before it was kept: pack it again)")
        others, present = pick_views(data, idx, views, rng)
        extra = torch.from_numpy(data.image[others.reshape(-1)]).to(device)
        extra = extra.permute(0, 3, 1, 2).float() / 255.0
        if augment > 0:
            extra = augment_images(extra, rng, augment)
        batch["views_image"] = extra
        batch["views_transform"] = torch.from_numpy(
            view_transforms(data.object_to_view, idx, others))
        batch["views_present"] = torch.from_numpy(present)
        batch["index"] = torch.from_numpy(np.asarray(idx, np.int64))  # which samples: a frozen
        batch["views_index"] = torch.from_numpy(others.reshape(-1).astype(np.int64))  # cache
    return {k: v.to(device) for k, v in batch.items()}
