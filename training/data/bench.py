"""Benchmark: complete samples per second on this machine, with the time split between shape
prep (meshing / loading + SDF pools + BVH), rendering (input + 12 slices), SDF sampling and
surface colours.

    python -m training.data bench [--sources procedural 0ad ...] [--shapes 8] [--views 4]
                                  [--workers 2]
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections import defaultdict

import numpy as np

from training.data.build import _init_worker
from training.data.pipeline import IMAGE_SIZE, SLICE_SIZE, Timer, make_samples
from training.data.sources import get_source
from training.data.sources.base import Dropped, stable_seed


def _run(args: tuple[str, str, int]) -> tuple[dict[str, float], int, int]:
    source, shape_id, views = args
    timer = Timer()
    rng = np.random.default_rng(stable_seed(shape_id, "bench"))
    t = time.perf_counter()
    shape = get_source(source).load(shape_id, rng)
    timer.add("prep", t)
    if isinstance(shape, Dropped):
        return dict(timer.seconds), 0, 1
    n = len(make_samples(shape, views, rng, timer))
    return dict(timer.seconds), n, 0


def bench(sources: list[str], shapes: int, views: int, workers: int = 1) -> dict:
    """Run the pipeline on ``shapes`` shapes per source and print the throughput."""
    jobs = []
    for name in sources:
        listed = get_source(name).list_shapes(max(shapes * 25, shapes))
        step = max(1, len(listed) // shapes)
        jobs += [(name, sid, views) for sid, _ in listed[::step][:shapes]]
    _run(jobs[0])  # warm up imports and JIT caches outside the timing
    t0 = time.perf_counter()
    if workers <= 1:
        _init_worker()
        results = [_run(j) for j in jobs]
    else:
        with mp.get_context("fork").Pool(workers, initializer=_init_worker) as pool:
            results = pool.map(_run, jobs, chunksize=1)
    wall = time.perf_counter() - t0
    stages: dict[str, float] = defaultdict(float)
    for sec, _, _ in results:
        for k, v in sec.items():
            stages[k] += v
    n = sum(r[1] for r in results)
    dropped = sum(r[2] for r in results)
    busy = sum(stages.values())
    print(
        f"sources={','.join(sources)} shapes={len(jobs)} (dropped {dropped}) views={views} "
        f"workers={workers} input={IMAGE_SIZE}px slices={SLICE_SIZE}px"
    )
    print(f"{n} samples in {wall:.1f} s wall: {n / wall:.2f} samples/s")
    for k in ("prep", "render", "sdf", "color"):
        print(
            f"  {k:6s} {stages[k]:7.1f} s  ({100 * stages[k] / max(busy, 1e-9):4.1f}%)  "
            f"{stages[k] / max(n, 1) * 1000:6.0f} ms/sample (one core)"
        )
    return {"samples": n, "wall_s": wall, "samples_per_s": n / wall, **stages}
