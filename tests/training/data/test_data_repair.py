"""Closing open bottoms: an open-bottomed box becomes closed and gets an unambiguous inside."""

from __future__ import annotations

import numpy as np
import trimesh

from training.data.mesh import ShapeMesh
from training.data.mesh_sdf import is_closed, winding_numbers
from training.data.repair import cap_bottom, ear_clip


def test_ear_clip_l_shape():
    poly = np.array([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]], float)
    tris = ear_clip(poly)
    assert len(tris) == 4
    area = sum(abs(np.cross(poly[b] - poly[a], poly[c] - poly[a])) / 2 for a, b, c in tris)
    assert np.isclose(area, 3.0)


def test_open_bottom_box_is_capped():
    tm = trimesh.creation.box([0.4, 0.3, 0.5])
    v = np.asarray(tm.vertices)
    f = np.asarray(tm.faces)
    keep = ~(v[f][:, :, 1] < -0.1).all(1)  # drop the two floor triangles
    mesh = ShapeMesh(v, f[keep])
    assert not is_closed(mesh.faces)
    assert winding_numbers(np.array([[0.0, -0.149, 0.0]]), mesh.vertices, mesh.faces)[0] < 0.75
    assert cap_bottom(mesh) == 2
    from training.data.mesh import weld

    assert is_closed(weld(mesh.vertices, mesh.faces, 1e-6)[1])
    w = winding_numbers(np.array([[0.0, -0.14, 0.0], [0.0, -0.2, 0.0]]), mesh.vertices, mesh.faces)
    np.testing.assert_allclose(w, [1.0, 0.0], atol=1e-6)
