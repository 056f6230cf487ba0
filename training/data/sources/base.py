"""The interface every shape source implements, and what it hands back."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from training.data.mesh import ShapeMesh
from training.data.sampling import ExactSampler, PoolSampler


@dataclass
class Shape:
    """A normalised shape ready to render and sample."""

    shape_id: str
    source: str
    family: str
    mesh: ShapeMesh
    sampler: ExactSampler | PoolSampler


@dataclass
class Dropped:
    """A shape that could not be made sound, and why (counted in the manifest)."""

    shape_id: str
    reason: str


class Source(Protocol):
    name: str

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        """Up to ``limit`` (shape_id, family) pairs, in a stable order."""

    def load(self, shape_id: str, rng: np.random.Generator) -> Shape | Dropped:
        """Build one shape (mesh, appearance, SDF sampler) or say why it is dropped."""


def stable_seed(*parts: object) -> int:
    """A seed that depends only on its arguments (not on the process or the hash salt)."""
    h = hashlib.sha1("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:8], "little")


def interleave_families(shapes: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """Up to ``limit`` (shape_id, family) pairs taken round-robin over the families (sorted by
    name, each in its listed order), so that a small limit still samples every kind of object."""
    by_fam: dict[str, list[str]] = {}
    for sid, fam in shapes:
        by_fam.setdefault(fam, []).append(sid)
    out: list[tuple[str, str]] = []
    k, total = 0, min(limit, len(shapes))
    while len(out) < total:
        for f in sorted(by_fam):
            if k < len(by_fam[f]) and len(out) < limit:
                out.append((by_fam[f][k], f))
        k += 1
    return out
