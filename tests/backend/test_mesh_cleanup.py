"""backend.mesh_cleanup: stair-steps smoothed with sharp edges kept, floating specks dropped,
normals outward, face budget honoured."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh
from skimage import measure

from backend import mesh_cleanup
from backend.mesh_cleanup import clean_mesh, smooth_surface
from backend.meshing import SdfGrid, evaluate_dense, marching_cubes

CPU = torch.device("cpu")


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


def raw_marching_cubes(grid: SdfGrid) -> tuple[np.ndarray, np.ndarray, float]:
    """skimage's surface of a grid, unsmoothed, faces wound outward: what smoothing starts from."""
    cell = (grid.hi - grid.lo) / grid.resolution
    v, f, _, _ = measure.marching_cubes(grid.values, 0.0, spacing=(cell,) * 3,
                                        gradient_direction="ascent")
    return v + grid.lo, f[:, ::-1].astype(np.int64), cell


def box_sdf(pts: torch.Tensor, half: float = 0.2) -> torch.Tensor:
    q = pts.abs() - half
    return q.clamp(min=0).norm(dim=-1) + q.max(dim=-1).values.clamp(max=0)


def terraced_sphere_sdf(pts: torch.Tensor, radius: float = 0.3, step: float = 0.025):
    """A sphere whose height is read in steps of ``step`` (three 64^3 cells): terraces, like a
    decoder's nearest-neighbour upsampling makes."""
    z = torch.round(pts[:, 2] / step) * step
    return torch.sqrt(pts[:, 0] ** 2 + pts[:, 1] ** 2 + z**2) - radius


def test_smoothing_keeps_a_cube_a_cube():
    grid = evaluate_dense(box_sdf, 64, CPU)
    verts, faces = marching_cubes(grid)  # smoothed, as the backend makes it
    raw, _, cell = raw_marching_cubes(grid)
    mesh = trimesh.Trimesh(verts, faces)
    assert mesh.is_watertight and mesh.volume == pytest.approx(0.4**3, rel=0.01)
    assert np.allclose(mesh.extents, 0.4, atol=cell)
    # no vertex moves further than the bound: edges and corners are rounded by half a cell at
    # most, less than marching cubes' own bevel
    shift = np.linalg.norm(verts - raw, axis=1)
    assert shift.max() <= mesh_cleanup.MAX_SHIFT_CELLS * cell * 1.0001
    assert np.abs(verts).sum(axis=1).max() > 3 * 0.2 - 3 * cell  # a corner is still there
    # the faces stay flat: exactly so from 5 cells off an edge, within 20 degrees over 93% of
    # the area (raw marching cubes: 92% within 5 degrees, the rest its bevel)
    centres = mesh.triangles_center
    off_edge = np.sort(0.2 - np.abs(centres), axis=1)[:, 1] > 5 * cell
    along_axis = np.abs(mesh.face_normals).max(axis=1)
    assert (along_axis[off_edge] > np.cos(np.radians(0.5))).all()
    assert mesh.area_faces[along_axis > np.cos(np.radians(20))].sum() > 0.93 * mesh.area


def test_smoothing_takes_terraces_off_a_sphere():
    grid = evaluate_dense(terraced_sphere_sdf, 64, CPU)
    raw, faces, cell = raw_marching_cubes(grid)

    def radial_alignment(v: np.ndarray) -> float:
        m = trimesh.Trimesh(v, faces, process=False)
        radial = m.triangles_center / np.linalg.norm(m.triangles_center, axis=1, keepdims=True)
        return float(np.average((m.face_normals * radial).sum(axis=1), weights=m.area_faces))

    before = radial_alignment(raw)
    after = radial_alignment(smooth_surface(raw, faces, cell))
    assert before < 0.985  # the terraces tilt the normals...
    assert after > before + 0.3 * (1 - before)  # ...and smoothing takes a good part of it away
    more = radial_alignment(smooth_surface(raw, faces, cell, iterations=20))
    assert more > after


def test_smoothing_off_and_on_an_empty_mesh_returns_the_vertices():
    v = np.random.default_rng(0).random((10, 3))
    assert smooth_surface(v, np.zeros((0, 3), np.int64), 0.01) is not None
    np.testing.assert_array_equal(smooth_surface(v, np.array([[0, 1, 2]]), 0.01, 0), v)


def trimesh_validated_clean(vertices, faces, face_budget=0) -> trimesh.Trimesh:
    """clean_mesh as it was written on trimesh's own process(validate=True)."""
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=True, validate=True)
    part_of_face = mesh_cleanup._face_parts(mesh)
    sizes = np.bincount(part_of_face)
    if len(sizes) > 1:
        mesh.update_faces(sizes[part_of_face] >= mesh_cleanup.MIN_PART_SHARE * sizes.max())
        mesh.remove_unreferenced_vertices()
    if face_budget and len(mesh.faces) > face_budget:
        mesh = mesh.simplify_quadric_decimation(face_count=int(face_budget))
        mesh.process(validate=True)
    return mesh


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("budget", [0, 3000])
def test_the_same_mesh_as_trimesh_validate(seed, budget):
    """The cheaper normals' repair changes nothing: a bumpy sphere with faces reversed, a speck
    and a second part inverted whole, with and without decimation, as trimesh's validate gives."""
    rng = np.random.default_rng(seed)
    body = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    body.vertices *= 1 + 0.05 * rng.standard_normal((len(body.vertices), 1))
    other = trimesh.creation.icosphere(subdivisions=3, radius=0.12).apply_translation((0.5, 0, 0))
    other.invert()
    speck = trimesh.creation.icosphere(subdivisions=0, radius=0.01).apply_translation((0, .5, 0))
    raw = trimesh.util.concatenate([body, other, speck])
    faces = raw.faces.copy()
    pick = rng.random(len(faces)) < 0.02
    faces[pick] = faces[pick][:, ::-1]
    ours = clean_mesh(raw.vertices, faces, budget)
    theirs = trimesh_validated_clean(raw.vertices, faces, budget)
    np.testing.assert_array_equal(ours.vertices, theirs.vertices)
    np.testing.assert_array_equal(ours.faces, theirs.faces)
    assert ours.is_winding_consistent
