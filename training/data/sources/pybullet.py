"""The 1,000 procedurally generated objects in pybullet_data/random_urdfs (PyPI pybullet):
blocky shapes with one colour each (from the URDF's material)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import trimesh

from training.data.mesh import ShapeMesh
from training.data.sources.base import Dropped, Shape
from training.data.sources.install import SourceMissing
from training.data.sources.real import finish_shape


def _root() -> Path:
    try:
        import pybullet_data
    except ImportError as exc:
        raise SourceMissing(
            "pybullet is not installed: `pip install pybullet==3.2.7` or "
            "`python -m training.data install --sources pybullet`"
        ) from exc
    return Path(pybullet_data.getDataPath()) / "random_urdfs"


class PybulletSource:
    name = "pybullet"

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        ids = sorted(p.name for p in _root().iterdir() if (p / f"{p.name}.obj").exists())
        return [(f"pybullet-{i}", "random_urdf") for i in ids[:limit]]

    def load(self, shape_id: str, rng: np.random.Generator) -> Shape | Dropped:
        i = shape_id.split("-", 1)[1]
        folder = _root() / i
        tm = trimesh.load(folder / f"{i}.obj", force="mesh", process=False)
        mesh = ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))
        urdf = (folder / f"{i}.urdf").read_text()
        m = re.search(r'<color rgba="([\d.\s]+)"', urdf)
        if m:
            rgb = np.array([float(x) for x in m.group(1).split()[:3]], np.float32)
            mesh.vertex_colors = np.tile(rgb, (len(mesh.vertices), 1))
        mesh.meta["smooth"] = False
        return finish_shape(shape_id, self.name, "random_urdf", mesh, rng)
