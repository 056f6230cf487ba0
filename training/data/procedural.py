"""Procedural shapes with exact SDFs: a shape is coloured parts, optional holes and a blend.

A ``ProcShape`` is defined in loose design units; ``to_shape_mesh`` meshes it (marching cubes of
the exact SDF, evaluated only near the surface) and returns the normalised mesh together with the
SDF of the normalised shape, so the rendered surface and the SDF samples agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from skimage.measure import marching_cubes

from training.data.mesh import ShapeMesh
from training.data.sdf_ops import SDF
from training.data.shading import random_colour

DESIGN_BOX = 1.6  # every family builds inside [-DESIGN_BOX, DESIGN_BOX]^3
MESH_CELLS = 150  # marching-cubes cells along the longest side of the normalised bbox


@dataclass
class ProcShape:
    """Parts (SDF, colour slot) unioned (smoothly when ``blend`` > 0), then ``holes`` cut out."""

    parts: list[tuple[SDF, int]]
    holes: list[SDF] = field(default_factory=list)
    blend: float = 0.0
    colors: dict[int, tuple[float, float, float]] = field(default_factory=dict)  # fixed sRGB

    def sdf(self, p: np.ndarray) -> np.ndarray:
        d = self.parts[0][0](p)
        for f, _ in self.parts[1:]:
            e = f(p)
            if self.blend > 0:
                h = np.clip(0.5 + 0.5 * (e - d) / self.blend, 0, 1)
                d = e * (1 - h) + d * h - self.blend * h * (1 - h)
            else:
                d = np.minimum(d, e)
        for hole in self.holes:
            d = np.maximum(d, -hole(p))
        return d

    def slots(self, p: np.ndarray) -> np.ndarray:
        """Colour slot of the nearest part at each point."""
        d = np.stack([f(p) for f, _ in self.parts])
        return np.array([s for _, s in self.parts])[d.argmin(0)]


def _eval_chunked(f: SDF, p: np.ndarray, chunk: int = 262144) -> np.ndarray:
    return (
        np.concatenate([f(p[i : i + chunk]) for i in range(0, len(p), chunk)])
        if len(p)
        else (np.zeros(0))
    )


def sparse_grid(
    f: SDF, lo: np.ndarray, h: float, shape: tuple[int, int, int], block: int = 6
) -> np.ndarray:
    """SDF on a regular grid, exact only near the surface: blocks whose centre distance exceeds
    their half-diagonal (times a safety factor) keep that coarse value, which has the right sign."""
    nb = [int(np.ceil(s / block)) for s in shape]
    centres = (
        np.stack(
            np.meshgrid(*[(np.arange(n) + 0.5) * block * h for n in nb], indexing="ij"), -1
        ).reshape(-1, 3)
        + lo
        - 0.5 * h
    )
    dc = _eval_chunked(f, centres).reshape(nb)
    grid = np.repeat(np.repeat(np.repeat(dc, block, 0), block, 1), block, 2)
    grid = grid[: shape[0], : shape[1], : shape[2]].copy()
    near = np.argwhere(np.abs(dc) < 1.5 * 0.5 * np.sqrt(3) * block * h + h)
    if len(near):
        off = np.stack(np.meshgrid(*[np.arange(block)] * 3, indexing="ij"), -1).reshape(-1, 3)
        idx = (near[:, None, :] * block + off[None]).reshape(-1, 3)
        idx = idx[(idx < np.array(shape)).all(1)]
        grid[idx[:, 0], idx[:, 1], idx[:, 2]] = _eval_chunked(f, lo + idx * h)
    return grid


@dataclass
class ProcResult:
    mesh: ShapeMesh
    sdf: SDF  # exact SDF of the normalised shape (object frame)


def to_shape_mesh(
    shape: ProcShape, rng: np.random.Generator, cells: int | None = None
) -> ProcResult | None:
    """Mesh and normalise a procedural shape; ``None`` if it is empty or touches the design box."""
    cells = cells or MESH_CELLS
    b = DESIGN_BOX
    hc = 2 * b / 48
    coarse = _eval_chunked(
        shape.sdf,
        np.stack(np.meshgrid(*[np.linspace(-b, b, 49)] * 3, indexing="ij"), -1).reshape(-1, 3),
    )
    occ = np.argwhere(coarse.reshape(49, 49, 49) < hc)
    if len(occ) == 0:
        return None
    lo = -b + (occ.min(0) - 1.5) * hc
    hi = -b + (occ.max(0) + 1.5) * hc
    h = float((hi - lo).max()) / cells
    shape_n = tuple(int(np.ceil(e / h)) + 1 for e in (hi - lo))
    grid = sparse_grid(shape.sdf, lo, h, shape_n)
    if grid.min() >= 0 or grid.max() <= 0:
        return None
    verts, faces, _, _ = marching_cubes(grid, 0.0, spacing=(h, h, h))
    verts = verts + lo
    if np.any(np.abs(verts) > b - 1e-3):
        return None
    vlo, vhi = verts.min(0), verts.max(0)
    centre = 0.5 * (vlo + vhi)
    k = 1.0 / float(np.linalg.norm(vhi - vlo))
    mesh = ShapeMesh((verts - centre) * k, faces.astype(np.int64))  # outward for SDF < 0 inside
    palette = np.stack([random_colour(rng) for _ in range(4)])
    for slot, col in shape.colors.items():  # families with natural colours (fruit) fix them
        palette[slot % 4] = col
    mesh.vertex_colors = palette[shape.slots(verts) % 4].astype(np.float32)

    def sdf_n(p: np.ndarray, f=shape.sdf, c=centre, k=k) -> np.ndarray:
        return _eval_chunked(f, np.asarray(p, np.float64) / k + c) * k

    return ProcResult(mesh, sdf_n)
