"""Surface colour labels: closest points with barycentrics, and exact colours on a cube whose six
faces carry six different texels (and on vertex colours)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import trimesh

from training.data.colors import (
    SurfaceIndex,
    closest_on_triangles,
    material_look,
    surface_colors,
)
from training.data.mesh import ShapeMesh
from training.data.mesh_sdf import point_triangle_distance
from training.data.shading import random_look
from training.data.views import View

FACE_COLOURS = np.array(
    [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [40, 80, 120]],
    np.uint8,
)
NORMALS = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
CELL = 8  # texture px per face, a strip of six cells


def textured_cube(half: float = 0.25) -> ShapeMesh:
    """A cube, four vertices per face, face k mapped inside texture cell k (away from its edges,
    so bilinear sampling never reaches a neighbour cell)."""
    verts, faces, uvs = [], [], []
    for k, n in enumerate(NORMALS):
        a = np.roll(n, 1)
        b = np.cross(n, a)
        centre = n * half
        corners = [
            centre + half * (sa * a + sb * b) for sa, sb in ((-1, -1), (1, -1), (1, 1), (-1, 1))
        ]
        base = len(verts)
        verts += corners
        faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
        u0, u1 = (CELL * k + 2) / (6 * CELL), (CELL * k + 6) / (6 * CELL)
        uvs += [[u0, 0.25], [u1, 0.25], [u1, 0.75], [u0, 0.75]]
    tex = np.repeat(FACE_COLOURS[None], CELL, axis=0)  # [8, 6, 3]
    tex = np.repeat(tex, CELL, axis=1)  # [8, 48, 3]: cell k = columns 8k..8k+7
    return ShapeMesh(np.array(verts), np.array(faces), uv=np.array(uvs, np.float32), texture=tex)


def plain_look():
    look = random_look(np.random.default_rng(3))
    return replace(look, tint_strength=0.0, texture=None, pattern="none")


def test_closest_on_triangles_matches_the_exact_distance():
    rng = np.random.default_rng(0)
    tri = rng.normal(size=(4000, 3, 3))
    p = rng.normal(size=(4000, 3)) * 2
    bary = closest_on_triangles(p, tri)
    np.testing.assert_allclose(bary.sum(1), 1.0, atol=1e-9)
    assert (bary >= 0).all()
    q = np.einsum("nk,nkd->nd", bary, tri)
    np.testing.assert_allclose(
        np.linalg.norm(p - q, axis=1), point_triangle_distance(p, tri), rtol=1e-7, atol=1e-9
    )


def test_surface_index_finds_the_closest_face():
    """Points up to 0.4 from a 0.3 sphere, far ones included (the cube's uniform points)."""
    tm = trimesh.creation.icosphere(3, radius=0.3)
    mesh = ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))
    p = np.random.default_rng(1).uniform(-0.4, 0.4, (500, 3))
    face, bary, dist = SurfaceIndex(mesh).closest(p)
    faces = mesh.vertices[mesh.faces]  # brute force over every face
    want = (
        point_triangle_distance(np.repeat(p, len(faces), axis=0), np.tile(faces, (len(p), 1, 1)))
        .reshape(len(p), -1)
        .min(1)
    )
    # KD-tree candidates (as in MeshSDF): exact for nearly all points, never closer than true
    assert (dist >= want - 1e-9).all()
    assert (np.abs(dist - want) < 1e-7).mean() > 0.98 and (dist - want).max() < 0.01
    q = np.einsum("nk,nkd->nd", bary, mesh.vertices[mesh.faces[face]])
    np.testing.assert_allclose(np.linalg.norm(q - p, axis=1), dist, atol=1e-9)


def test_textured_cube_gives_each_face_its_texel_in_every_view():
    mesh = textured_cube()
    index = SurfaceIndex(mesh)
    # points just outside and just inside every face centre, and one off-centre per face
    offsets = np.array([0.3, 0.22, 0.2])
    pts, want = [], []
    for k, n in enumerate(NORMALS):
        side = np.roll(n, 1) * 0.1
        for d in offsets:
            pts.append(n * d + side * (d == 0.2))
            want.append(FACE_COLOURS[k])
    pts = np.array(pts)
    for view in (View(0.0, 0.0, 1.0), View(137.0, 25.0, 0.8)):
        got = surface_colors(index, plain_look(), view, view.to_view(pts))
        assert got.dtype == np.uint8 and got.shape == (len(pts), 4)
        np.testing.assert_array_equal(got[:, :3], np.array(want))
        assert (got[:, 3] == 255).all()


def test_the_look_tint_is_part_of_the_label():
    """A tinted look changes the photo's base colour: the label follows it."""
    mesh = textured_cube()
    look = replace(plain_look(), tint_strength=0.3, base=np.array([0.2, 0.4, 1.0]))
    view = View(0.0, 0.0, 1.0)
    got = surface_colors(SurfaceIndex(mesh), look, view, view.to_view(NORMALS * 0.3))
    c = FACE_COLOURS / 255
    want = np.rint(np.clip(0.7 * c + 0.3 * c * look.base * 1.5, 0, 1) * 255)
    np.testing.assert_allclose(got[:, :3], want, atol=1)
    assert not np.array_equal(got[:, :3], FACE_COLOURS)


def test_vertex_colours_without_a_texture():
    mesh = textured_cube()
    per_vertex = np.repeat(FACE_COLOURS, 4, axis=0).astype(np.float32) / 255
    mesh = ShapeMesh(mesh.vertices, mesh.faces, vertex_colors=per_vertex)
    view = View(40.0, 10.0, 1.0)
    got = surface_colors(SurfaceIndex(mesh), plain_look(), view, view.to_view(NORMALS * 0.27))
    np.testing.assert_array_equal(got[:, :3], FACE_COLOURS)


def test_untextured_mesh_takes_the_looks_colour():
    tm = trimesh.creation.box([0.5, 0.5, 0.5])
    mesh = ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))
    look = replace(plain_look(), base=np.array([0.5, 0.25, 0.75]))
    view = View(0.0, 0.0, 1.0)
    got = surface_colors(SurfaceIndex(mesh), look, view, np.zeros((3, 3)) + 0.4)
    np.testing.assert_array_equal(got[:, :3], np.tile(np.rint(look.base * 255), (3, 1)))


def test_material_look_is_the_meshs_own_material():
    """The Cycles inputs' material: the texel untinted, else the given base colour."""
    view = View(0.0, 0.0, 1.0)
    got = surface_colors(
        SurfaceIndex(textured_cube()), material_look((0.1, 0.2, 0.3)), view, NORMALS * 0.3
    )
    np.testing.assert_array_equal(got[:, :3], FACE_COLOURS)
    tm = trimesh.creation.box([0.5, 0.5, 0.5])
    plain = ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))
    got = surface_colors(SurfaceIndex(plain), material_look((0.2, 0.4, 0.6)), view, NORMALS * 0.3)
    np.testing.assert_array_equal(got[:, :3], np.tile([51, 102, 153], (6, 1)))
