"""backend.mesh_winding: the faces trimesh's own winding repair gives, on meshes it has work on."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from backend.mesh_winding import fix_winding


def reversed_some(mesh: trimesh.Trimesh, share: float, seed: int) -> trimesh.Trimesh:
    """The mesh with a random share of its faces wound the other way."""
    faces = mesh.faces.copy()
    pick = np.random.default_rng(seed).random(len(faces)) < share
    faces[pick] = faces[pick][:, ::-1]
    return trimesh.Trimesh(mesh.vertices, faces, process=False)


def both_ways(mesh: trimesh.Trimesh) -> tuple[np.ndarray, np.ndarray]:
    """Faces after trimesh's repair and after ours, each on its own copy."""
    theirs, ours = mesh.copy(), mesh.copy()
    trimesh.repair.fix_winding(theirs)
    fix_winding(ours)
    return theirs.faces, ours.faces


def sphere(centre: tuple[float, float, float], radius: float, subdivisions: int):
    return trimesh.creation.icosphere(subdivisions=subdivisions, radius=radius).apply_translation(
        centre)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("share", [0.001, 0.05, 0.5])
def test_one_closed_part(seed, share):
    mesh = reversed_some(sphere((0, 0, 0), 0.3, 3), share, seed)
    had_work = not mesh.is_winding_consistent  # a 0.1% share may reverse no face at all
    theirs, ours = both_ways(mesh)
    np.testing.assert_array_equal(ours, theirs)
    fixed = trimesh.Trimesh(mesh.vertices, ours, process=False)
    assert fixed.is_winding_consistent and (had_work or share < 0.01)


@pytest.mark.parametrize("seed", range(3))
def test_parts_large_and_small(seed):
    """One part with most faces (networkx lists it in graph order) and small ones (set order):
    each starts where trimesh starts it."""
    parts = [sphere((0, 0, 0), 0.3, 3)] + [sphere((0.5 + 0.1 * k, 0.4, 0), 0.03, 1)
                                           for k in range(6)]
    joined = trimesh.util.concatenate(parts)
    order = np.random.default_rng(seed).permutation(len(joined.faces))  # parts interleaved
    mesh = reversed_some(trimesh.Trimesh(joined.vertices, joined.faces[order], process=False),
                         0.3, seed)
    theirs, ours = both_ways(mesh)
    np.testing.assert_array_equal(ours, theirs)


def test_parts_of_equal_size():
    """No part holds half the faces: every start comes from networkx's sets."""
    joined = trimesh.util.concatenate([sphere((0.4 * k, 0, 0), 0.1, 1) for k in range(5)])
    mesh = reversed_some(trimesh.Trimesh(joined.vertices, joined.faces, process=False), 0.4, 7)
    theirs, ours = both_ways(mesh)
    np.testing.assert_array_equal(ours, theirs)


def test_open_surface_with_a_hole():
    """Not watertight: a sphere with a cap cut away, some faces reversed."""
    full = sphere((0, 0, 0), 0.3, 3)
    kept = full.triangles_center[:, 2] < 0.2
    mesh = reversed_some(trimesh.Trimesh(full.vertices, full.faces[kept], process=False), 0.2, 3)
    assert not mesh.is_watertight
    theirs, ours = both_ways(mesh)
    np.testing.assert_array_equal(ours, theirs)


def test_a_part_no_winding_makes_consistent_goes_to_trimesh():
    """A Moebius strip: trimesh's walk order decides, so trimesh's own repair runs."""
    n = 24
    angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
    centre = np.stack([np.cos(angle), np.sin(angle), np.zeros(n)], axis=1)
    across = np.stack([np.cos(angle / 2) * np.cos(angle), np.cos(angle / 2) * np.sin(angle),
                       np.sin(angle / 2)], axis=1) * 0.2
    vertices = np.concatenate([centre - across, centre + across])
    faces = []
    for k in range(n):
        a, b = k, (k + 1) % n
        # the strip's half twist joins the last rung to the first one turned round
        c, d = (a + n, b + n) if k < n - 1 else (a + n, b)
        b_low = b if k < n - 1 else b + n
        faces += [[a, b_low, c], [b_low, d, c]]
    mesh = reversed_some(trimesh.Trimesh(vertices, np.array(faces), process=False), 0.3, 1)
    theirs, ours = both_ways(mesh)
    np.testing.assert_array_equal(ours, theirs)


def test_consistent_mesh_is_left_alone():
    mesh = sphere((0, 0, 0), 0.3, 2)
    before = mesh.faces.copy()
    fix_winding(mesh)
    np.testing.assert_array_equal(mesh.faces, before)
