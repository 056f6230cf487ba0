"""SDF query points per view: half near the surface at three noise scales, half uniform in the
cube [-0.55, 0.55]^3 of the view frame; signed distances in view-frame units (negative inside)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.data.mesh import ShapeMesh
from training.data.views import SCALE_RANGE, View

CUBE = 0.55
NEAR_SIGMAS = (0.005, 0.015, 0.05)  # view-frame units
POOL_RADIUS = CUBE * np.sqrt(3) / SCALE_RANGE[0]  # object-frame ball holding every view's cube

ObjectSDF = Callable[[np.ndarray], np.ndarray]  # object-frame points -> object-frame distances


def _split(p: int) -> tuple[int, int]:
    near = p // 2
    return near, p - near


class ExactSampler:
    """For shapes with an exact SDF: fresh points per view, evaluated directly."""

    def __init__(self, mesh: ShapeMesh, sdf: ObjectSDF) -> None:
        self.mesh, self.sdf = mesh, sdf

    def sample(self, view: View, rng: np.random.Generator, p: int) -> tuple[np.ndarray, np.ndarray]:
        n_near, n_uni = _split(p)
        surf, _ = self.mesh.sample_surface(n_near, rng)
        sig = np.array(NEAR_SIGMAS)[rng.integers(0, len(NEAR_SIGMAS), n_near)] / view.scale
        near = surf + rng.normal(size=surf.shape) * sig[:, None]
        uni = view.to_object(rng.uniform(-CUBE, CUBE, (n_uni, 3)))
        pts = np.concatenate([near, uni])
        return view.to_view(pts), view.scale * self.sdf(pts)


class PoolSampler:
    """For meshes whose SDF is costly (winding numbers): one object-frame pool per shape, evaluated
    once, from which every view draws its near points and the uniform points inside its cube."""

    def __init__(
        self,
        mesh: ShapeMesh,
        sdf: ObjectSDF,
        rng: np.random.Generator,
        n_near: int = 12288,
        n_uniform: int = 36000,
    ) -> None:
        self.sdf = sdf
        surf, _ = mesh.sample_surface(n_near, rng)
        sig = np.array(NEAR_SIGMAS)[rng.integers(0, len(NEAR_SIGMAS), n_near)]
        self.near = surf + rng.normal(size=surf.shape) * sig[:, None]
        d = rng.normal(size=(n_uniform, 3))
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        self.uniform = d * POOL_RADIUS * rng.random(n_uniform)[:, None] ** (1 / 3)
        both = sdf(np.concatenate([self.near, self.uniform]))  # one call: one winding pass
        self.near_sdf, self.uniform_sdf = both[:n_near], both[n_near:]

    def sample(self, view: View, rng: np.random.Generator, p: int) -> tuple[np.ndarray, np.ndarray]:
        n_near, n_uni = _split(p)
        i = rng.choice(len(self.near), n_near, replace=n_near > len(self.near))
        uv = view.to_view(self.uniform)
        inside = np.flatnonzero((np.abs(uv) <= CUBE).all(1))
        j = rng.choice(inside, n_uni, replace=n_uni > len(inside))
        pts = np.concatenate([view.to_view(self.near[i]), uv[j]])
        return pts, view.scale * np.concatenate([self.near_sdf[i], self.uniform_sdf[j]])
