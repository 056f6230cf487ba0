"""SDF signs and distances against a sphere and a box with known answers, closed and open."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.mesh import ShapeMesh
from training.data.mesh_sdf import MeshSDF, choose_method, is_closed, winding_numbers
from training.data.sampling import ExactSampler, PoolSampler
from training.data.views import View


def _sphere_sdf(p):
    return np.linalg.norm(p, axis=1) - 0.3


BOX_HALF = np.array([0.2, 0.1, 0.3])


def _box_sdf(p):
    q = np.abs(p) - BOX_HALF
    return np.linalg.norm(np.maximum(q, 0), axis=1) + np.minimum(q.max(1), 0)


@pytest.mark.parametrize("method", ["parity", "winding"])
def test_sphere_and_box(sphere_mesh, box_mesh, method):
    rng = np.random.default_rng(0)
    p = rng.uniform(-0.5, 0.5, (3000, 3))
    for mesh, truth, tol in ((sphere_mesh, _sphere_sdf, 2e-3), (box_mesh, _box_sdf, 1e-9)):
        assert is_closed(mesh.faces)
        d, t = MeshSDF(mesh, method)(p), truth(p)
        clear = np.abs(t) > tol
        assert np.all(np.sign(d[clear]) == np.sign(t[clear]))
        np.testing.assert_allclose(d, t, atol=tol + 1e-9)


def test_open_box_keeps_its_inside(box_mesh):
    # remove the top two triangles: parity breaks, winding numbers still say "inside" in the core
    top = np.flatnonzero(box_mesh.vertices[box_mesh.faces][:, :, 1].min(1) > 0.09)
    keep = np.setdiff1d(np.arange(len(box_mesh.faces)), top)
    open_box = ShapeMesh(box_mesh.vertices, box_mesh.faces[keep])
    assert not is_closed(open_box.faces) and choose_method(open_box) == "winding"
    core = np.array([[0.0, 0.0, 0.0], [0.1, -0.05, 0.2], [0.0, 0.5, 0.0], [0.4, 0.0, 0.0]])
    w = winding_numbers(core, open_box.vertices, open_box.faces)
    assert w[0] > 0.5 and w[1] > 0.5 and w[2] < 0.5 and w[3] < 0.5
    assert MeshSDF(open_box, "winding")(core)[0] < 0


def test_samplers_scale_to_the_view_frame(sphere_mesh):
    view = View(40.0, 10.0, 0.8)
    rng = np.random.default_rng(2)
    for sampler in (
        ExactSampler(sphere_mesh, _sphere_sdf),
        PoolSampler(sphere_mesh, MeshSDF(sphere_mesh, "parity"), rng, 2048, 8000),
    ):
        pts, sdf = sampler.sample(view, rng, 1024)
        assert pts.shape == (1024, 3) and sdf.shape == (1024,)
        # in the view frame the sphere has radius 0.3 * scale, centred at the origin
        truth = np.linalg.norm(pts, axis=1) - 0.3 * view.scale
        np.testing.assert_allclose(sdf, truth, atol=3e-3)
        uniform = pts[512:]
        assert np.abs(uniform).max() <= 0.55 + 1e-9
        assert np.abs(sdf[:512]).mean() < 0.03  # the first half hugs the surface


def test_overlapping_closed_parts_use_winding_numbers(box_mesh):
    # two overlapping closed boxes (like the pybullet objects): ray parity can call the overlap
    # outside (it disagreed on 5-10% of pybullet points), winding numbers (2 there) say inside
    shifted = box_mesh.vertices + [0.1, 0.0, 0.0]
    both = ShapeMesh(
        np.concatenate([box_mesh.vertices, shifted]),
        np.concatenate([box_mesh.faces, box_mesh.faces + len(box_mesh.vertices)]),
    )
    assert choose_method(both) == "winding"
    overlap = np.array([[0.05, 0.0, 0.0]])
    assert MeshSDF(both, "winding")(overlap)[0] < 0
