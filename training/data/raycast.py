"""Ray/mesh hits through Embree (trimesh + embreex): first hits for the input image, every hit
along each ray for the 12 slices, both from one BVH built once per shape in the object frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from trimesh.ray.ray_pyembree import RayMeshIntersector

from training.data.mesh import ShapeMesh
from training.data.views import View


@dataclass
class Hits:
    """Ray hits in the view frame: which ray, which face, distance along the ray and the point."""

    ray: np.ndarray  # int64 [H]
    face: np.ndarray  # int64 [H]
    t: np.ndarray  # float64 [H], view-frame distance from the camera
    point: np.ndarray  # float64 [H, 3], view frame


class Caster:
    """An Embree BVH over one normalised mesh; rays arrive in a view frame and are mapped back."""

    def __init__(self, mesh: ShapeMesh) -> None:
        self.mesh = mesh
        tm = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
        self._rmi = RayMeshIntersector(tm)

    def cast(self, origin: np.ndarray, dirs: np.ndarray, view: View, all_hits: bool) -> Hits:
        """Cast view-frame rays (one origin, unit directions) and return hits in the view frame."""
        o_obj = view.to_object(origin[None])[0]
        d_obj = dirs @ view.rotation  # rotation only: directions keep their length up to 1/scale
        origins = np.broadcast_to(o_obj, d_obj.shape)
        loc, ray, face = self._rmi.intersects_location(origins, d_obj, multiple_hits=all_hits)
        ray = np.asarray(ray, np.int64)
        face = np.asarray(face, np.int64)
        point = view.to_view(loc) if len(loc) else np.zeros((0, 3))
        t = np.linalg.norm(point - origin[None], axis=1)
        return Hits(ray, face, t, point)

    def occluded(
        self, points_obj: np.ndarray, dir_obj: np.ndarray, eps: float = 2e-4
    ) -> np.ndarray:
        """Shadow test: does a ray from each object-frame point along ``dir_obj`` hit anything?"""
        d = np.broadcast_to(dir_obj / np.linalg.norm(dir_obj), points_obj.shape)
        return np.asarray(self._rmi.intersects_any(points_obj + eps * d, d), bool)
