"""Points through the network chunk by chunk, the chunks side by side on the CPU's threads.

On a CPU torch splits every op over its intra-op threads. The point decoder's ops are small
(``QUERY_CHUNK`` rows, 64 wide), so two threads meet at a barrier after every op and gain only
about x1.6 over one. Whole chunks run side by side instead, each on one thread, gain about
x2.4 on the same 2-core CPU (docs/BENCHMARKS.md). Every chunk is the same call on the same
rows as before, so the values are the same bit for bit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import torch

THREAD_PREFIX = "slice3d-chunk"
_pools: dict[int, ThreadPoolExecutor] = {}


def map_chunks(fn: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor,
               step: int) -> list[torch.Tensor]:
    """``fn`` of each run of ``step`` rows of ``points``, in order.

    On a CPU with more than one torch thread the chunks go to that many Python threads while
    torch runs each op on one thread (restored after; torch's thread count is process-wide, so
    a second job must not share the process, which no caller does: the server runs one job at
    a time, and each Ray actor is its own process). Elsewhere one after another."""
    starts = range(0, points.shape[0], step)
    threads = torch.get_num_threads()
    if points.device.type != "cpu" or threads < 2 or len(starts) < 2:
        return [fn(points[i : i + step]) for i in starts]
    pool = _pool(threads)
    grad = torch.is_grad_enabled()  # grad mode is per thread: the caller's goes with each chunk

    def run(i: int) -> torch.Tensor:
        with torch.set_grad_enabled(grad):
            return fn(points[i : i + step])

    torch.set_num_threads(1)
    try:
        return list(pool.map(run, starts))
    finally:
        torch.set_num_threads(threads)


def _pool(threads: int) -> ThreadPoolExecutor:
    """A pool of ``threads`` threads, every one started now and kept.

    ThreadPoolExecutor starts a thread only when it finds none idle, and it counts a finished
    task as an idle thread: a pool whose first chunk finished before the second was handed out
    kept one thread for good (seen on a fast CI machine). So each thread is started on a task
    that waits until all of them run."""
    pool = _pools.get(threads)
    if pool is None:
        pool = ThreadPoolExecutor(threads, thread_name_prefix=THREAD_PREFIX)
        all_started = threading.Barrier(threads, timeout=60)
        for started in [pool.submit(all_started.wait) for _ in range(threads)]:
            started.result()
        _pools[threads] = pool
    return pool
