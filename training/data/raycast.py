"""Ray/mesh hits straight from Embree (embreex): first hits for the input image, every hit along
each ray for the 12 slices, both from one BVH built once per shape in the object frame.

Embree hands back the distance, the face and its barycentric (u, v) for each ray, so points,
UVs and smooth normals come without any further geometry. Several hits per ray come from
re-casting the rays that hit, just past their last hit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from embreex import rtcore_scene
from embreex.mesh_construction import TriangleMesh

from training.data.mesh import ShapeMesh
from training.data.views import View

RESTART_EPS = 2e-5  # object units past a hit before looking for the next one
MAX_HITS = 24


@dataclass
class Hits:
    """Ray hits in the view frame: ray index, face, barycentrics, view distance and point."""

    ray: np.ndarray  # int64 [H]
    face: np.ndarray  # int64 [H]
    bary: np.ndarray  # float64 [H, 3] weights of the face's three corners
    t: np.ndarray  # float64 [H], view-frame distance from the camera
    point: np.ndarray  # float64 [H, 3], view frame


class Caster:
    """An Embree BVH over one normalised mesh; rays arrive in a view frame and are mapped back."""

    def __init__(self, mesh: ShapeMesh) -> None:
        self.mesh = mesh
        self.face_normals = mesh.face_normals  # computed once per shape, used by every view
        self._scene = rtcore_scene.EmbreeScene()
        TriangleMesh(
            scene=self._scene,
            vertices=mesh.vertices.astype(np.float32),
            indices=mesh.faces.astype(np.int32),
        )

    def _run(self, o: np.ndarray, d: np.ndarray) -> dict:
        return self._scene.run(
            np.ascontiguousarray(o, np.float32), np.ascontiguousarray(d, np.float32), output=1
        )

    def cast(self, origin: np.ndarray, dirs: np.ndarray, view: View, all_hits: bool) -> Hits:
        """Cast view-frame rays (one origin, unit directions) and return hits in the view frame."""
        o_obj = view.to_object(origin[None])[0]
        d_obj = dirs @ view.rotation  # a rotation: still unit length in the object frame
        rays = np.arange(len(dirs))
        start = np.zeros(len(dirs))  # object-frame distance each ray restarts from
        out: list[tuple[np.ndarray, ...]] = []
        for _ in range(MAX_HITS if all_hits else 1):
            r = self._run(o_obj + start[:, None] * d_obj[rays], d_obj[rays])
            hit = r["primID"] >= 0
            if not hit.any():
                break
            rays, start = rays[hit], start[hit] + r["tfar"][hit].astype(np.float64)
            u, v = r["u"][hit].astype(np.float64), r["v"][hit].astype(np.float64)
            out.append(
                (
                    rays,
                    r["primID"][hit].astype(np.int64),
                    np.stack([1 - u - v, u, v], 1),
                    start.copy(),
                )
            )
            start = start + RESTART_EPS
        if not out:
            return Hits(
                np.zeros(0, np.int64),
                np.zeros(0, np.int64),
                np.zeros((0, 3)),
                np.zeros(0),
                np.zeros((0, 3)),
            )
        ray, face, bary, t_obj = (np.concatenate(x) for x in zip(*out, strict=True))
        t = t_obj * view.scale
        point = origin[None] + t[:, None] * dirs[ray]
        return Hits(ray, face, bary, t, point)

    def occluded(
        self, points_obj: np.ndarray, dir_obj: np.ndarray, eps: float = 2e-4
    ) -> np.ndarray:
        """Shadow test: does a ray from each object-frame point along ``dir_obj`` (one direction,
        or one per point) hit anything?"""
        norm = np.linalg.norm(dir_obj, axis=-1, keepdims=True)
        d = np.broadcast_to(dir_obj / np.maximum(norm, 1e-20), points_obj.shape)
        return (
            self._scene.run(
                np.ascontiguousarray(points_obj + eps * d, np.float32),
                np.ascontiguousarray(d, np.float32),
            )
            >= 0
        )
