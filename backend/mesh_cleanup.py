"""Mesh clean-up after marching cubes: stair-steps smoothed, specks removed, optional face budget.

``backend.meshing.marching_cubes`` winds every face outward (tests check the volume sign, also
on meshes that are not watertight once merged, where trimesh's own winding fix does nothing), so
the normals need repair only where decimation folds a face over (``_validated``)."""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.sparse import coo_matrix, csr_matrix, diags
from scipy.sparse.csgraph import connected_components

from .mesh_winding import edge_parts, fix_winding

MIN_PART_SHARE = 0.02  # a part with under 2% of the largest part's faces is a floating speck
# Taubin smoothing of the marching-cubes surface (``smooth_surface``): pairs of a shrinking step
# (TAUBIN_LAMBDA) and an inflating one (TAUBIN_MU), which remove ripples a few cells long
# without shrinking the shape. SMOOTH_ITERATIONS was chosen on the validation split
# (docs/experiments/clean_surfaces.md); 0 turns it off.
SMOOTH_ITERATIONS = 10
TAUBIN_LAMBDA = 0.5
TAUBIN_MU = -0.53
# No vertex moves further than this many grid cells from where marching cubes put it: the
# stair-steps are a cell high, while a cube's edges and corners, which Taubin would round off
# by more with every iteration, stay within this of their place.
MAX_SHIFT_CELLS = 0.5


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, face_budget: int = 0) -> trimesh.Trimesh:
    """Merge, drop specks and degenerate faces, decimate to face_budget if > 0."""
    mesh = _validated(trimesh.Trimesh(vertices=vertices, faces=faces, process=False))
    part_of_face = _face_parts(mesh)
    sizes = np.bincount(part_of_face)
    if len(sizes) > 1:
        mesh.update_faces(sizes[part_of_face] >= MIN_PART_SHARE * sizes.max())
        mesh.remove_unreferenced_vertices()
    if face_budget and len(mesh.faces) > face_budget:
        mesh = _validated(mesh.simplify_quadric_decimation(face_count=int(face_budget)))
    return mesh


def _validated(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """trimesh's ``process(validate=True)``, the same mesh, with its normals' repair only where
    it has something to do, and its winding walk in array operations (``mesh_winding``).

    The repair (``fix_normals``) checks the winding and the volume of every part; on the
    consistently wound, outward marching-cubes meshes it finds nothing, yet the checks were half
    the clean-up's time (docs/BENCHMARKS.md). Here a cheaper test, which passes whenever the
    repair would change something, decides whether it runs. Decimation folds a face or two over
    on most network meshes; there the repair runs."""
    mesh.update_faces(mesh.unique_faces() & mesh.nondegenerate_faces())
    if not mesh.is_winding_consistent or (mesh.is_watertight and _may_be_inverted(mesh)):
        multibody = mesh.body_count > 1  # as trimesh's fix_normals decides it
        fix_winding(mesh)  # trimesh's repair.fix_winding, the same faces, faster
        trimesh.repair.fix_inversion(mesh, multibody=multibody)
    return mesh.process()


def _may_be_inverted(mesh: trimesh.Trimesh) -> bool:
    """Whether the mesh, or a part of it joined by shared edges, may enclose a negative volume
    (the cases ``trimesh.repair.fix_inversion`` inverts), with a margin for rounding."""
    tri = mesh.triangles
    signed = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])) / 6.0
    _, part = edge_parts(np.asarray(mesh.face_adjacency), len(mesh.faces))
    volumes = np.bincount(part, weights=signed)
    margin = 1e-9 * max(float(np.abs(signed).sum()), 1e-30)
    return bool(volumes.min() < margin or signed.sum() < margin)


def _face_parts(mesh: trimesh.Trimesh) -> np.ndarray:
    """Connected part index of every face; sparse-graph labelling, 10x faster than mesh.split."""
    f = mesh.faces
    rows, cols = np.concatenate([f[:, 0], f[:, 1]]), np.concatenate([f[:, 1], f[:, 2]])
    n = len(mesh.vertices)
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, part = np.unique(labels[f[:, 0]], return_inverse=True)
    return part


def smooth_surface(vertices: np.ndarray, faces: np.ndarray, cell: float,
                   iterations: int | None = None) -> np.ndarray:
    """Vertices after Taubin lambda|mu smoothing (uniform umbrella weights), each kept within
    ``MAX_SHIFT_CELLS`` cells of its start.

    The network's SDF ridges (its decoder's nearest-neighbour upsampling) and the grid make
    stair-steps a cell high that Chamfer hardly sees but every shaded view shows; a flat face
    stays flat (its umbrella vectors lie in the face's plane) and the bound keeps sharp edges."""
    n_iter = SMOOTH_ITERATIONS if iterations is None else iterations
    start = np.asarray(vertices, np.float64)
    if n_iter <= 0 or len(faces) == 0:
        return np.asarray(vertices)
    umbrella = _umbrella(faces, len(start))
    v = start.copy()
    limit = MAX_SHIFT_CELLS * cell
    for _ in range(n_iter):
        for step in (TAUBIN_LAMBDA, TAUBIN_MU):
            v += step * (umbrella @ v - v)
        shift = v - start
        length = np.linalg.norm(shift, axis=1, keepdims=True)
        v = start + shift * np.minimum(1.0, limit / np.maximum(length, 1e-12))
    return v.astype(np.asarray(vertices).dtype)


def _umbrella(faces: np.ndarray, n: int) -> csr_matrix:
    """The mean-of-neighbours operator of a triangle mesh (row-normalised edge adjacency)."""
    f = np.asarray(faces)
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    adjacency = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    adjacency.data[:] = 1.0  # an edge shared by two faces counts once
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    return diags(1.0 / np.maximum(degree, 1.0)) @ adjacency
