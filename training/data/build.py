"""``build``: plan shards over the chosen sources, render them in worker processes, resumably.

The plan (which shape goes to which split and shard) is written first to ``DIR/plan.json`` so a
re-run with the same arguments skips finished shards; every shard has a JSON sidecar with its
counts, drops and stage timings, and the manifest is rebuilt from those sidecars.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
import traceback
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.data.pipeline import POINTS, Timer, make_samples
from training.data.shards import (
    SPLITS,
    assign_splits,
    write_json,
    write_manifest,
    write_mesh,
    write_shard,
)
from training.data.sources import get_source
from training.data.sources.base import Dropped, stable_seed

SHAPES_PER_SHARD = 8
MESH_SPLITS = ("val", "test")  # evaluation meshes are kept for these splits
META_KEYS = ("licence", "author", "title")  # per-shape provenance a source may set in mesh.meta


@dataclass
class Unit:
    """One shard to make: its path relative to DIR and the shapes in it."""

    path: str
    split: str
    source: str
    shapes: list[tuple[str, str]]
    views: int
    points: int


def plan_units(
    sources: list[str],
    shapes: int | dict[str, int],
    views: int,
    points: int,
    per_shard: int = SHAPES_PER_SHARD,
    exclude: frozenset[str] = frozenset(),
) -> list[Unit]:
    """Up to ``shapes`` shapes from each source, split by shape, grouped into shards.

    Splits are assigned over every listed shape before ``exclude`` (shapes another set already
    holds) is taken out, so a set that adds shapes to an earlier one splits them as one bigger
    build would: no shape can be test in one set and train in the other."""
    units: list[Unit] = []
    for name in sources:
        src = get_source(name)
        listed = src.list_shapes(shapes[name] if isinstance(shapes, dict) else shapes)
        split = assign_splits([i for i, _ in listed])
        listed = [(i, f) for i, f in listed if i not in exclude]
        for s in SPLITS:
            mine = [(i, f) for i, f in listed if split[i] == s]
            for k in range(0, len(mine), per_shard):
                path = f"{s}/{name}-{k // per_shard:05d}.npz"
                units.append(Unit(path, s, name, mine[k : k + per_shard], views, points))
    return units


def run_unit(out: Path, unit: Unit) -> dict:
    """Make one shard (and its sidecar); returns the sidecar."""
    src = get_source(unit.source)
    timer = Timer()
    samples: list[dict] = []
    dropped: dict[str, int] = defaultdict(int)
    families: dict[str, int] = defaultdict(int)
    meta: dict[str, dict[str, str]] = {}
    for shape_id, _ in unit.shapes:
        rng = np.random.default_rng(stable_seed(shape_id, "build"))
        t = time.perf_counter()
        try:
            shape = src.load(shape_id, rng)
        except Exception as exc:  # a broken file must not stop a long build
            shape = Dropped(shape_id, f"load_error:{type(exc).__name__}")
        timer.add("prep", t)
        if isinstance(shape, Dropped):
            dropped[shape.reason] += 1
            continue
        if provenance := shape_meta(shape.mesh.meta):
            meta[shape_id] = provenance
        got = make_samples(shape, unit.views, rng, timer, unit.points)
        samples += got
        families[shape.family] += len(got)
        if unit.split in MESH_SPLITS:
            write_mesh(out / "meshes" / f"{shape_id}.npz", shape.mesh)
    if samples:
        write_shard(out / unit.path, samples)
    side = {
        "split": unit.split,
        "source": unit.source,
        "samples": len(samples),
        "families": dict(families),
        "dropped": dict(dropped),
        "seconds": dict(timer.seconds),
        "shapes": [i for i, _ in unit.shapes],
        "views": unit.views,
    }
    if meta:
        side["meta"] = meta
    write_json((out / unit.path).with_suffix(".json"), side)
    return side


def shape_meta(meta: dict) -> dict[str, str]:
    """The licence, author and title a source recorded for a shape (the strings among them),
    kept in the shard's sidecar so every sample's provenance can be cited."""
    return {k: meta[k] for k in META_KEYS if isinstance(meta.get(k), str)}


def _work(args: tuple[str, dict]) -> tuple[dict, dict | None, str | None]:
    out, unit = args
    try:
        return unit, run_unit(Path(out), Unit(**unit)), None
    except Exception:
        return unit, None, traceback.format_exc()


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


def _done(out: Path, unit: dict) -> bool:
    """A shard is done when its sidecar exists and lists the same shapes and views."""
    side = (out / unit["path"]).with_suffix(".json")
    if not side.exists():
        return False
    info = json.loads(side.read_text())
    return info["shapes"] == [i for i, _ in unit["shapes"]] and info.get("views") == unit["views"]


def _interleave(units: list[dict]) -> list[dict]:
    """Evaluation shards first, then round-robin over sources, so a partial build is a mix."""
    rank: dict[tuple[str, str], int] = defaultdict(int)
    keyed = []
    for u in units:
        k = rank[(u["source"], u["split"])]
        rank[(u["source"], u["split"])] += 1
        keyed.append((u["split"] == "train", k, u["source"], u["path"], u))
    return [x[-1] for x in sorted(keyed, key=lambda x: x[:4])]


def planned_shapes(sets: tuple[Path, ...]) -> frozenset[str]:
    """Every shape id in the plans of these data sets (a clear error if one has no plan)."""
    ids: set[str] = set()
    for d in sets:
        plan = Path(d) / "plan.json"
        if not plan.is_file():
            raise ValueError(f"{d} is not a data set: it has no plan.json")
        for unit in json.loads(plan.read_text())["units"]:
            ids.update(shape_id for shape_id, _ in unit["shapes"])
    return frozenset(ids)


def build(
    out: Path,
    sources: list[str],
    shapes: int | dict[str, int],
    views: int,
    workers: int = 1,
    points: int = POINTS,
    splits: tuple[str, ...] = SPLITS,
    exclude_sets: tuple[Path, ...] = (),
) -> dict:
    """Build (or resume) a data set in ``out``; returns the manifest.

    ``splits`` limits which shards are made now (the plan always covers every split, so an
    evaluation-only build is the first part of the full one, not a different set). Only the
    named ``sources`` are made now; other sources' planned shards stay pending for later.
    ``exclude_sets``: earlier sets whose planned shapes this one leaves out (more shapes of a
    source without rendering the ones already made)."""
    exclude = planned_shapes(exclude_sets)
    out.mkdir(parents=True, exist_ok=True)
    plan_path = out / "plan.json"
    units = plan_units(sources, shapes, views, points, exclude=exclude)
    if plan_path.exists():  # keep earlier units of the sources not re-planned now
        kept = [u for u in json.loads(plan_path.read_text())["units"] if u["source"] not in sources]
        all_units = kept + [asdict(u) for u in units]
    else:
        all_units = [asdict(u) for u in units]
    write_json(plan_path, {"units": all_units})
    pending = [u for u in all_units if not _done(out, u)]
    todo = _interleave([u for u in pending if u["split"] in splits and u["source"] in sources])
    total = sum(len(u["shapes"]) * u["views"] for u in todo)
    print(
        f"{len(all_units) - len(pending)} of {len(all_units)} shards done; "
        f"{len(todo)} to make now (<= {total} samples, splits {', '.join(splits)}) in {out}"
    )
    failures = 0
    with tqdm(total=total, unit="sample", smoothing=0.05) as bar:
        if workers <= 1:
            _init_worker()
            results = (_work((str(out), u)) for u in todo)
            pool = None
        else:
            pool = mp.get_context("fork").Pool(workers, initializer=_init_worker)
            results = pool.imap_unordered(_work, [(str(out), u) for u in todo])
        for done, (unit, side, err) in enumerate(results, 1):
            bar.update(len(unit["shapes"]) * unit["views"])
            if done % 10 == 0:  # keep a usable manifest while a long build runs
                write_manifest(out, points)
            if err:
                failures += 1
                tqdm.write(f"shard {unit['path']} failed:\n{err}")
            elif side["dropped"]:
                tqdm.write(f"{unit['path']}: dropped {side['dropped']}")
        if pool is not None:
            pool.close()
            pool.join()
    manifest = write_manifest(out, points)
    if failures:
        print(f"{failures} shard(s) failed; re-run the same command to retry them")
    return manifest
