"""``colors``: add the ``colors`` array to shards built before it existed.

Each shape is re-prepared from the installed source the way the build did (same seed), but
without evaluating its SDF pool (``real.unevaluated_pools``). The build's random stream is then
replayed exactly: its views, each view's look (today's ``random_look``, else the draws of builds
made before the HDRI light, ``studio_look``) and its SDF points. A sample's colours are
written as known only when the replayed points equal the stored ones bit for bit (which pins
the frame, the look and the random state), and each shape's SDF, recomputed at a few stored
points, must match the stored ``sdf`` (else the shard is left alone, with a message).

The one draw that depends on the evaluated pool (``real.unseen_inside`` picks up to 2,000 of the
pool's inside points) is recovered by trying inside counts, nearest first to the count the
stored samples' signs suggest, until the stored views come out of the stream.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from training.data.colors import SurfaceIndex, material_look, surface_colors
from training.data.sampling import PoolSampler
from training.data.shading import random_look, studio_look
from training.data.shards import SPLITS, write_arrays
from training.data.sources import get_source
from training.data.sources.base import Dropped, Shape, stable_seed
from training.data.sources.real import unevaluated_pools
from training.data.views import View, sample_view

SDF_CHECK_POINTS = 16
UNSEEN_PICK = 2000  # real.unseen_inside's sample size
LOOKS = (random_look, studio_look)  # today's looks, then those of builds before the HDRI light
MAX_VIEW_MATCHES = 4  # stream states with the stored views tried before giving up on a shape


class FrameMismatch(RuntimeError):
    """The re-prepared shape's SDF disagrees with the stored one: a different mesh or frame."""


def _views_match(rng: np.random.Generator, stored: np.ndarray) -> bool:
    got = np.array([sample_view(rng).as_array() for _ in range(len(stored))])
    return bool(np.array_equal(got, stored))


def _candidate_rngs(
    shape: Shape, fresh: np.random.Generator, views: np.ndarray, points: np.ndarray, sdf: np.ndarray
) -> Iterator[np.random.Generator]:
    """Generators positioned where the build's stream stood after ``load`` (views verified)."""
    replay = shape.mesh.meta.get("_replay")
    if replay is None:  # procedural: load draws nothing from the build's stream
        if _views_match(_copy(fresh.bit_generator.state), views):
            yield _copy(fresh.bit_generator.state)
        return
    state, method = replay
    if method != "winding":
        if _views_match(_copy(state), views):
            yield _copy(state)
        return
    assert isinstance(shape.sampler, PoolSampler)
    pool = len(shape.sampler.near) + len(shape.sampler.uniform)
    est = _inside_estimate(shape.sampler, views, points, sdf)
    seen: set[tuple] = set()
    matched = 0
    for n in _outward(est, pool):
        if matched >= MAX_VIEW_MATCHES:
            return
        g = _copy(state)
        if n:
            g.choice(n, min(UNSEEN_PICK, n), replace=False)
        after = g.bit_generator.state
        key = (after["state"]["state"], after["has_uint32"], after["uinteger"])
        if key in seen:
            continue
        seen.add(key)
        if _views_match(_copy(after), views):
            matched += 1
            yield _copy(after)


def _outward(start: int, top: int) -> Iterator[int]:
    """0..top, nearest to ``start`` first."""
    start = min(max(start, 0), top)
    yield start
    for d in range(1, top + 1):
        for n in (start + d, start - d):
            if 0 <= n <= top:
                yield n


def _inside_estimate(
    sampler: PoolSampler, views: np.ndarray, points: np.ndarray, sdf: np.ndarray
) -> int:
    """How many pool points the build found inside, from the stored samples' signs: each stored
    point is matched to its pool point, unmatched pool points count at the matched share."""
    n_near = points.shape[1] // 2
    inside = {}
    for part, pool, sl in (
        ("near", sampler.near, slice(0, n_near)),
        ("uniform", sampler.uniform, slice(n_near, None)),
    ):
        known: dict[int, bool] = {}
        for v, pts, d in zip(views, points, sdf, strict=True):
            tree = cKDTree(View(*(float(x) for x in v)).to_view(pool))
            dist, idx = tree.query(pts[sl].astype(np.float64))
            ok = dist < 2e-3
            known.update(zip(idx[ok].tolist(), (d[sl][ok] < 0).tolist(), strict=True))
        share = np.mean(list(known.values())) if known else 0.0
        inside[part] = sum(known.values()) + share * (len(pool) - len(known))
    return int(round(inside["near"] + inside["uniform"]))


def _copy(state: dict) -> np.random.Generator:
    g = np.random.Generator(np.random.PCG64())
    g.bit_generator.state = state
    return g


def replay_shape(
    shape: Shape,
    seed: int,
    points: np.ndarray,
    views: np.ndarray,
    sdf: np.ndarray,
    materials: list | None = None,
) -> np.ndarray | None:
    """Colours uint8 [V, P, 4] for one shape's stored samples, or None when the build's stream
    cannot be replayed exactly (the caller marks them unknown). Raises FrameMismatch when the
    SDF recomputed at a few stored points disagrees with the stored values. ``materials``: per
    view, the base colour of a Cycles input (a ``photo-val`` shard), whose material is the
    mesh's own rather than the replayed look."""
    _check_sdf(shape, points[0], views[0], sdf[0])
    fresh = np.random.default_rng(seed)
    index = SurfaceIndex(shape.mesh, shape.sampler.sdf)
    for start in _candidate_rngs(shape, fresh, views, points, sdf):
        for draw_look in LOOKS:
            rng = _copy(start.bit_generator.state)
            vlist = [sample_view(rng) for _ in range(len(views))]
            out = []
            for k, view in enumerate(vlist):
                look = draw_look(rng)
                pts, _ = shape.sampler.sample(view, rng, points.shape[1])
                pts16 = pts.astype(np.float16)
                if not np.array_equal(pts16, points[k]):
                    break
                if materials is not None:
                    look = material_look(materials[k])
                out.append(surface_colors(index, look, view, pts16))
            else:
                return np.stack(out)
    return None


def _check_sdf(shape: Shape, pts: np.ndarray, view_arr: np.ndarray, sdf: np.ndarray) -> None:
    view = View(*(float(x) for x in view_arr))
    i = np.linspace(0, len(pts) - 1, SDF_CHECK_POINTS).astype(int)
    got = view.scale * shape.sampler.sdf(view.to_object(pts[i].astype(np.float64)))
    want = sdf[i].astype(np.float64)
    bad = np.abs(got - want) > 2e-3 * np.abs(want) + 2e-3
    if bad.mean() > 0.1:
        raise FrameMismatch(
            f"{shape.shape_id}: SDF recomputed at {len(i)} stored points differs at "
            f"{int(bad.sum())} (max |diff| {np.abs(got - want).max():.4f})"
        )


def backfill_shard(path: Path) -> dict:
    """Add ``colors`` to one shard; returns its counts (points known / total, per source)."""
    side = json.loads(path.with_suffix(".json").read_text())
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    if "colors" in arrays:
        return {"skipped": True}
    src = get_source(side["source"])
    n, p = arrays["points"].shape[:2]
    colors = np.zeros((n, p, 4), np.uint8)
    shape_ids = arrays["shape_id"]
    verified = 0
    photo = _photo_materials(side)
    for shape_id in side["shapes"]:
        rows = np.flatnonzero(shape_ids == shape_id)
        if len(rows) == 0:
            continue  # dropped at build time
        seed = stable_seed(shape_id, "build")
        with unevaluated_pools():
            shape = src.load(shape_id, np.random.default_rng(seed))
        if isinstance(shape, Dropped):
            continue  # unknown: the source no longer makes it
        got = replay_shape(
            shape,
            seed,
            arrays["points"][rows],
            arrays["view"][rows],
            arrays["sdf"][rows],
            photo.get(shape_id),
        )
        if got is not None:
            colors[rows] = got
            verified += len(rows)
    arrays["colors"] = colors
    write_arrays(path, arrays)
    return {
        "source": side["source"],
        "samples": n,
        "verified": verified,
        "points": n * p,
        "known": int((colors[..., 3] > 0).sum()),
    }


def _photo_materials(side: dict) -> dict[str, list]:
    """A photo-val sidecar's Cycles base colour per shape, in view order (empty for ``build``)."""
    out: dict[str, dict[int, list]] = defaultdict(dict)
    for setup in side.get("photo", []):
        out[setup["shape_id"]][int(setup["view"])] = setup["base_color"]
    return {s: [v[k] for k in sorted(v)] for s, v in out.items()}


def pending_shards(out: Path, splits: tuple[str, ...]) -> list[Path]:
    """Finished shards (their sidecar exists: the build writes it after the shard) of ``splits``."""
    found = []
    for split in splits:
        for side in sorted((out / split).glob("*.json")):
            npz = side.with_suffix(".npz")
            if npz.is_file():
                found.append(npz)
    return found


def _work(path: str) -> tuple[str, dict | None, str | None]:
    try:
        return path, backfill_shard(Path(path)), None
    except FrameMismatch as exc:
        return path, None, f"frame mismatch, shard left alone: {exc}"
    except Exception:  # one broken shard must not stop the run
        return path, None, traceback.format_exc()


def backfill(out: Path, splits: tuple[str, ...] = SPLITS, workers: int = 1) -> dict:
    """Backfill every finished shard of ``out``; prints and returns the counts per source."""
    todo = [str(p) for p in pending_shards(out, splits)]
    print(f"{len(todo)} shards in {out} ({', '.join(splits)})", flush=True)
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    t0 = time.perf_counter()
    if workers <= 1:
        results = map(_work, todo)
        pool = None
    else:
        pool = mp.get_context("fork").Pool(workers)
        results = pool.imap_unordered(_work, todo)
    for k, (path, res, err) in enumerate(results, 1):
        rel = Path(path).relative_to(out)
        if err:
            totals["_failed"]["shards"] += 1
            print(f"[{k}/{len(todo)}] {rel}: {err}", flush=True)
        elif res is not None and res.get("skipped"):
            totals["_skipped"]["shards"] += 1
        elif res is not None:
            t = totals[res["source"]]
            for key in ("samples", "verified", "points", "known"):
                t[key] += res[key]
            t["shards"] += 1
            print(
                f"[{k}/{len(todo)}] {rel}: {res['verified']}/{res['samples']} samples replayed "
                f"({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    if pool is not None:
        pool.close()
        pool.join()
    summary = {s: dict(v) for s, v in totals.items()}
    for s, v in sorted(summary.items()):
        if "points" in v:
            share = v["known"] / max(v["points"], 1)
            print(
                f"{s}: {v['shards']} shards, {v['verified']}/{v['samples']} samples, "
                f"{v['known']}/{v['points']} points with a known colour ({share:.1%})"
            )
        else:
            print(f"{s}: {v['shards']} shards")
    return summary
