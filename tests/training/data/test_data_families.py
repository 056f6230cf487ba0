"""Every procedural family makes varied, bounded, normalised shapes whose mesh is the SDF's zero
level set."""

from __future__ import annotations

import numpy as np
import pytest

from training.data.families import ALL_FAMILIES, FAMILIES
from training.data.procedural import to_shape_mesh


def test_at_least_eight_families():
    assert len(FAMILIES) >= 8


@pytest.mark.parametrize("name", sorted(ALL_FAMILIES))
def test_family(name):
    sizes = []
    for seed in range(2):
        rng = np.random.default_rng(seed)
        res = to_shape_mesh(ALL_FAMILIES[name](rng), rng)
        assert res is not None
        v = res.mesh.vertices
        np.testing.assert_allclose(np.linalg.norm(v.max(0) - v.min(0)), 1.0, atol=1e-6)
        np.testing.assert_allclose(0.5 * (v.max(0) + v.min(0)), 0.0, atol=1e-6)
        cell = 1.0 / 40
        assert np.abs(res.sdf(v[::7])).max() < cell  # the mesh sits on the zero level set
        assert res.sdf(np.array([[2.0, 2.0, 2.0]]))[0] > 0
        assert res.mesh.vertex_colors is not None
        sizes.append(tuple(np.round(v.max(0) - v.min(0), 3)))
    assert sizes[0] != sizes[1]  # parameters vary
