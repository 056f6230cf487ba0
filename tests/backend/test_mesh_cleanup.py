"""backend.mesh_cleanup: floating specks dropped, normals outward, face budget honoured."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from backend.mesh_cleanup import clean_mesh


def spheres(*parts: tuple[tuple[float, float, float], float, int]) -> trimesh.Trimesh:
    """Icospheres (centre, radius, subdivisions) in one mesh, like marching cubes' raw output."""
    meshes = []
    for centre, radius, subdivisions in parts:
        m = trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius)
        m.apply_translation(centre)
        meshes.append(m)
    return trimesh.util.concatenate(meshes)


def test_small_floating_parts_are_dropped():
    raw = spheres(((0, 0, 0), 0.3, 4), ((0.4, 0.4, 0.4), 0.02, 1), ((-0.4, 0, 0), 0.02, 0))
    big_faces = 20 * 4**4
    assert len(raw.faces) > big_faces
    mesh = clean_mesh(raw.vertices, raw.faces)
    assert len(mesh.faces) == big_faces
    assert np.linalg.norm(mesh.vertices, axis=1).max() == pytest.approx(0.3, abs=1e-6)
    assert mesh.is_watertight


def test_parts_of_similar_size_are_kept():
    raw = spheres(((-0.25, 0, 0), 0.2, 3), ((0.25, 0, 0), 0.15, 3))
    mesh = clean_mesh(raw.vertices, raw.faces)
    assert len(mesh.faces) == len(raw.faces)
    assert len(mesh.split(only_watertight=False)) == 2


def test_normals_are_fixed_outward():
    raw = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    inverted = raw.faces[:, ::-1]
    mesh = clean_mesh(raw.vertices, inverted)
    assert mesh.volume > 0
    assert np.all(np.sum(mesh.face_normals * mesh.triangles_center, axis=1) > 0)


@pytest.mark.parametrize("budget", [500, 2000])
def test_face_budget(budget):
    raw = trimesh.creation.icosphere(subdivisions=5, radius=0.3)  # 20480 faces
    mesh = clean_mesh(raw.vertices, raw.faces, face_budget=budget)
    assert 0.5 * budget <= len(mesh.faces) <= budget
    assert np.abs(np.linalg.norm(mesh.vertices, axis=1) - 0.3).max() < 0.02  # still a sphere
    assert mesh.volume > 0


def test_zero_budget_keeps_every_face():
    raw = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    assert len(clean_mesh(raw.vertices, raw.faces, face_budget=0).faces) == len(raw.faces)
    assert len(clean_mesh(raw.vertices, raw.faces, face_budget=10**6).faces) == len(raw.faces)


def test_degenerate_faces_and_duplicate_vertices_are_merged():
    raw = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    # Marching cubes style: every triangle has its own three vertices, plus a zero-area face.
    verts = raw.vertices[raw.faces.reshape(-1)]
    faces = np.arange(len(verts)).reshape(-1, 3)
    faces = np.vstack([faces, [[0, 0, 1]]])
    mesh = clean_mesh(verts, faces)
    assert len(mesh.vertices) == len(raw.vertices)
    assert len(mesh.faces) == len(raw.faces)
    assert mesh.is_watertight
