"""The procedural source: shape ``proc-<family>-<n>`` is family(n's seed), meshed exactly."""

from __future__ import annotations

import numpy as np

from training.data.families import ALL_FAMILIES, FAMILIES
from training.data.procedural import to_shape_mesh
from training.data.sampling import ExactSampler
from training.data.sources.base import Dropped, Shape, stable_seed


class ProceduralSource:
    """Shape ids interleave the families; the id fixes the shape. The default family list is
    frozen (adding a family would change which ids the first N are, and so old builds' plans):
    new families go to new sources, like ``everyday``."""

    name = "procedural"

    def __init__(self, families: list[str] | None = None, name: str = "procedural") -> None:
        self.families = list(families or FAMILIES)
        self.name = name

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        out = []
        for i in range(limit):
            fam = self.families[i % len(self.families)]
            out.append((f"proc-{fam}-{i // len(self.families):06d}", fam))
        return out

    def load(self, shape_id: str, rng: np.random.Generator) -> Shape | Dropped:
        fam = shape_id.split("-")[1]
        for attempt in range(4):  # a rare draw leaves the design box or is empty: redraw
            srng = np.random.default_rng(stable_seed(shape_id, attempt))
            res = to_shape_mesh(ALL_FAMILIES[fam](srng), srng)
            if res is not None:
                return Shape(shape_id, self.name, fam, res.mesh, ExactSampler(res.mesh, res.sdf))
        return Dropped(shape_id, "empty_or_unbounded")
