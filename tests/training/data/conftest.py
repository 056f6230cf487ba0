"""Shared fixtures for the data-engine tests: tiny meshes, a textured-box OBJ and a coarse meshing
resolution."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import numpy as np
import pytest
import trimesh

from training.data import procedural
from training.data.mesh import ShapeMesh


@pytest.fixture(autouse=True)
def coarse_meshing(monkeypatch):
    """Procedural shapes meshed at 40 cells instead of 150: same code, seconds not minutes."""
    monkeypatch.setattr(procedural, "MESH_CELLS", 40)


def mesh_of(tm: trimesh.Trimesh) -> ShapeMesh:
    return ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))


@pytest.fixture
def sphere_mesh() -> ShapeMesh:
    return mesh_of(trimesh.creation.icosphere(4, radius=0.3))


@pytest.fixture
def box_mesh() -> ShapeMesh:
    return mesh_of(trimesh.creation.box([0.4, 0.2, 0.6]))


CUBE_CORNERS = (
    (0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)
)
CUBE_UVS = ("vt 0 0", "vt 1 0", "vt 1 1", "vt 0 1")
# six quads, outward, each corner as vertex/UV index: every quad has the full [0, 1] UV square
CUBE_QUADS = (
    "1/1 4/4 3/3 2/2",
    "5/1 6/2 7/3 8/4",
    "1/1 2/2 6/3 5/4",
    "4/1 8/4 7/3 3/2",
    "1/1 5/2 8/3 4/4",
    "2/1 3/2 7/3 6/4",
)


@pytest.fixture
def cube_obj() -> Callable[..., str]:
    """OBJ text of a 1 x 1 x ``height`` box (Z up to ``height``) written ``v/vt``, as many catalog
    models are, without its ``mtllib`` line. ``materials``: one ``usemtl`` name for all six
    quads, or one per quad (a line is written where it changes); quads whose material is in
    ``untextured`` are written without UVs."""

    def text(
        materials: str | Sequence[str], untextured: Collection[str] = (), height: float = 1.0
    ) -> str:
        names = [materials] * len(CUBE_QUADS) if isinstance(materials, str) else list(materials)
        lines = [f"v {x} {y} {z * height:g}" for x, y, z in CUBE_CORNERS]
        if set(names) - set(untextured):
            lines += CUBE_UVS
        current = None
        for quad, name in zip(CUBE_QUADS, names, strict=True):
            if name != current:
                lines.append(f"usemtl {name}")
                current = name
            bare = " ".join(c.split("/")[0] for c in quad.split())
            lines.append("f " + (bare if name in untextured else quad))
        return "\n".join(lines) + "\n"

    return text
