"""Evaluation metrics against hand-computed cases (ARCHITECTURE.md section 9)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import integrate

from training import metrics as M


def sphere(r=0.3, shift=0.0):
    m = trimesh.creation.icosphere(6, radius=r)
    m.apply_translation([shift, 0, 0])
    return m


def test_identical_meshes():
    m = sphere()
    out = M.compare(m, m.copy())
    assert out["chamfer_l1"] == 0.0 and out["norm/chamfer_l1"] == 0.0
    for key in ("f@0.01", "f@0.05", "norm/f@0.01", "norm/f@0.05"):
        assert out[key] == 1.0
    assert out["iou"] == pytest.approx(1.0)


def test_shifted_sphere_chamfer_and_iou():
    r, d = 0.3, 0.1
    # a point r*u on sphere A is | |r*u - d*e| - r | from sphere B; u.e is uniform on [-1, 1]
    expected = integrate.quad(lambda t: abs(np.sqrt(r * r + d * d - 2 * r * d * t) - r), -1, 1)[0]
    expected /= 2.0
    out = M.compare(sphere(r), sphere(r, d))
    assert out["chamfer_l1"] == pytest.approx(expected, rel=0.05)
    lens = np.pi * (4 * r + d) * (2 * r - d) ** 2 / 12.0
    ball = 4.0 / 3.0 * np.pi * r**3
    assert out["iou"] == pytest.approx(lens / (2 * ball - lens), abs=0.01)
    # normalised: both centred on their bounding box, so the shift disappears
    assert out["norm/chamfer_l1"] < 0.002
    assert out["norm/f@0.01"] > 0.99


def test_concentric_spheres_fscore():
    a, b = sphere(0.3), sphere(0.33)  # every sample is 0.03 from the other surface
    out = M.compare(a, b, iou=False)
    assert out["f@0.01"] == 0.0
    assert out["f@0.05"] == 1.0
    assert out["chamfer_l1"] == pytest.approx(0.03, abs=0.002)
    assert "iou" not in out


def test_open_mesh_has_no_iou():
    m = sphere()
    open_mesh = trimesh.Trimesh(m.vertices, m.faces[:-10])
    assert M.compare(open_mesh, m)["iou"] is None


def test_depth_ratio_reads_a_stretch_along_the_view_axis():
    ref = trimesh.creation.box(extents=(0.4, 0.3, 0.2))
    deep = ref.copy()
    deep.apply_scale((1.0, 1.0, 1.5))
    assert M.compare(deep, ref, iou=False)["depth_ratio"] == pytest.approx(1.5)
    assert M.depth_ratio(ref, deep) == pytest.approx(1 / 1.5)


def noisy(mesh: trimesh.Trimesh, scale: float, seed: int = 0) -> trimesh.Trimesh:
    """The mesh with every vertex moved along its normal by Gaussian noise."""
    rng = np.random.default_rng(seed)
    shift = rng.normal(0.0, scale, len(mesh.vertices))[:, None] * mesh.vertex_normals
    return trimesh.Trimesh(mesh.vertices + shift, mesh.faces)


def test_normal_consistency_of_a_sphere_with_itself_is_one():
    m = sphere()
    out = M.compare(m, m.copy(), iou=False)
    assert out["normal_consistency"] == pytest.approx(1.0, abs=1e-9)
    assert out["norm/normal_consistency"] == pytest.approx(1.0, abs=1e-9)


def test_noise_lowers_normal_consistency_more_than_chamfer_sees():
    m = sphere()
    rough = M.compare(noisy(m, 0.002), m, iou=False)
    # noise of a third of an edge: Chamfer moves by under 1% of the size, the normals tilt a lot
    assert rough["norm/chamfer_l1"] < 0.008
    assert rough["norm/normal_consistency"] < 0.9
    rougher = M.compare(noisy(m, 0.004), m, iou=False)
    assert rougher["norm/normal_consistency"] < rough["norm/normal_consistency"]


def test_a_cube_against_a_sphere_is_less_consistent_than_against_itself():
    cube = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    against_sphere = M.compare(cube, sphere(0.3), iou=False)["norm/normal_consistency"]
    against_itself = M.compare(cube, cube.copy(), iou=False)["norm/normal_consistency"]
    assert against_itself == pytest.approx(1.0)
    # a cube's face normals against a sphere's: by hand the mean |cos| is about 0.8
    assert 0.6 < against_sphere < 0.92


def test_normals_are_the_unit_normals_of_the_faces_the_samples_lie_on():
    box = trimesh.creation.box(extents=(0.5, 0.5, 0.5))
    pts, nrm = M.sample_surface_normals(box, 500)
    assert np.allclose(np.linalg.norm(nrm, axis=1), 1.0)
    # on a box, the normal's axis is the one where the sample sits on the face (|coord| = 0.25)
    axis = np.abs(nrm).argmax(axis=1)
    assert np.allclose(np.abs(pts[np.arange(500), axis]), 0.25)
    assert np.allclose(pts, M.sample_surface(box, 500))


def test_a_failure_scores_zero_normal_consistency():
    assert M.failed_metrics()["norm/normal_consistency"] == 0.0
