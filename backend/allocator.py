"""glibc's allocator told to keep freed blocks of up to 32 MB in the process for reuse.

The point decoder and the texture stage allocate and free tensors of a few MB per op (a
2048-point chunk's slice tokens are [2048, 12, 64] floats, 6 MB). By default glibc hands such
blocks back to the kernel when they are freed (``mmap`` above a threshold it adapts as it goes,
and the heap's top trimmed past twice that), so the next tensor of the same size page-faults
every page in again: about 175,000 minor faults in one thread's 65,536 SDF points, a fifth of
their time. With fixed thresholds the blocks stay in the heap; a warm process held about 100 MB
more after 256^3 jobs (1.23 against 1.13 GB). Measured in docs/BENCHMARKS.md, "The allocator's
thresholds".

Elsewhere than glibc (macOS, Windows, musl) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
from functools import lru_cache

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest: blocks up to 32 MB come from the heap
TRIM_THRESHOLD = 1 << 30  # the heap's free top is given back only past 1 GiB


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Fix glibc's thresholds for this process (once); whether they were set."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
