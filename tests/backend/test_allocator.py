"""backend.allocator: freed blocks of a few MB stay in the process instead of page-faulting
back in. Each case runs in a fresh process: the thresholds are process-wide and one-way."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest
from backend_test_support import REPO_ROOT

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="the thresholds are glibc's")

# Two 6 MB blocks freed together: by default glibc trims the heap's free top past twice its
# adapted mmap threshold, so every cycle faults 12 MB of pages in again.
CYCLES = """
import resource, sys, numpy as np
if sys.argv[1] == "keep":
    from backend.allocator import keep_freed_memory
    assert keep_freed_memory()
if sys.argv[1] == "reconstructor":  # what every job runner makes first
    import torch
    from backend.pipeline import Reconstructor
    Reconstructor(torch.device("cpu"))
def cycle():
    a = np.ones(6 << 20, np.uint8); b = np.ones(6 << 20, np.uint8); del a, b
cycle(); cycle()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    cycle()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def minor_faults(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", CYCLES, mode], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120, check=True)
    return int(done.stdout.split()[-1])


def test_freed_blocks_are_reused_without_page_faults() -> None:
    assert minor_faults("default") > 10_000  # 20 cycles of 12 MB: 3,000 pages each
    assert minor_faults("keep") < 200


def test_a_reconstructor_keeps_freed_memory() -> None:
    assert minor_faults("reconstructor") < 200
