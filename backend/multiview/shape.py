"""The reference photo's predicted shape, coarse: what the other photos are placed against.

A 32^3 grid is enough to tell where a photo's camera stands and how large the object looks from
there; a finer one would only cost time (the SDF of a whole job is computed later, once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import trimesh

from ..meshing import CancelFn, evaluate_coarse_to_fine, marching_cubes
from ..predictors.base import SdfFunction

COARSE_RESOLUTION = 32
SURFACE_POINTS = 3000  # a 64-pixel silhouette from them is within 0.06 IoU of the true one


@dataclass(frozen=True)
class CoarseShape:
    """Reference view-frame vertices (for exact projected boxes) and surface samples (for
    silhouettes and colours)."""

    vertices: np.ndarray  # float64 [V, 3]
    points: np.ndarray  # float64 [N, 3], area-uniform on the surface


def coarse_shape(sdf: SdfFunction, device: torch.device, cancel: CancelFn | None = None,
                 resolution: int = COARSE_RESOLUTION, samples: int = SURFACE_POINTS
                 ) -> CoarseShape:
    """The zero level set of ``sdf`` on a coarse grid; raises the mesher's own no_surface error
    when there is none."""
    grid = evaluate_coarse_to_fine(sdf, resolution, device, start=resolution, cancel=cancel)
    verts, faces = marching_cubes(grid)
    return shape_from_mesh(verts, faces, samples)


def shape_from_mesh(vertices: np.ndarray, faces: np.ndarray,
                    samples: int = SURFACE_POINTS) -> CoarseShape:
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64), np.asarray(faces), process=False)
    pts, _ = trimesh.sample.sample_surface(mesh, samples, seed=0)
    return CoarseShape(np.asarray(mesh.vertices, np.float64), np.asarray(pts, np.float64))
