"""Mesh clean-up after marching cubes: specks removed, optional face budget.

Normals need no repair: ``backend.meshing.marching_cubes`` winds every face outward (tests
check the volume sign, also on meshes that are not watertight once merged, where trimesh's own
winding fix does nothing)."""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

MIN_PART_SHARE = 0.02  # a part with under 2% of the largest part's faces is a floating speck


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, face_budget: int = 0) -> trimesh.Trimesh:
    """Merge, drop specks and degenerate faces, decimate to face_budget if > 0."""
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=True, validate=True)
    part_of_face = _face_parts(mesh)
    sizes = np.bincount(part_of_face)
    if len(sizes) > 1:
        mesh.update_faces(sizes[part_of_face] >= MIN_PART_SHARE * sizes.max())
        mesh.remove_unreferenced_vertices()
    if face_budget and len(mesh.faces) > face_budget:
        mesh = mesh.simplify_quadric_decimation(face_count=int(face_budget))
        mesh.process(validate=True)
    return mesh


def _face_parts(mesh: trimesh.Trimesh) -> np.ndarray:
    """Connected part index of every face; sparse-graph labelling, 10x faster than mesh.split."""
    f = mesh.faces
    rows, cols = np.concatenate([f[:, 0], f[:, 1]]), np.concatenate([f[:, 1], f[:, 2]])
    n = len(mesh.vertices)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, part = np.unique(labels[f[:, 0]], return_inverse=True)
    return part
