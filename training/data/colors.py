"""Surface colour labels for SDF query points: the base colour (albedo, no light) of the mesh
surface point closest to each query point, as the input image's renderer shades it.

The closest point comes from the same KD-tree candidates as ``mesh_sdf.MeshSDF`` (dense surface
samples plus every face centroid, then the exact point-triangle closest point over ``k``
candidate faces), the colour from ``shading.albedo`` with the sample's own look: the texel
(bilinear, as rendered) or the vertex colours or the look's triplanar texture / pattern, with
the look's tint. So the label is what the photo shows before lighting, on every side.
"""

from __future__ import annotations

import numpy as np

from backend.srgb import linear_to_srgb
from training.data.mesh import ShapeMesh
from training.data.mesh_sdf import MeshSDF, candidate_index
from training.data.shading import Look, albedo, shading_normals
from training.data.views import View

CANDIDATES = 8  # candidate faces per query point (the nearest surface samples' faces)


def closest_on_triangles(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric weights [N, 3] of the point of triangle ``tri[i]`` [N, 3, 3] closest to
    ``p[i]`` (Ericson's region tests, in his order: vertex A, B, edge AB, C, AC, BC, face)."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    ab, ac = b - a, c - a

    def dot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->i", x, y)

    ap, bp, cp = p - a, p - b, p - c
    d1, d2 = dot(ab, ap), dot(ac, ap)
    d3, d4 = dot(ab, bp), dot(ac, bp)
    d5, d6 = dot(ab, cp), dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        den = va + vb + vc
        v_in = np.nan_to_num(vb / den)
        w_in = np.nan_to_num(vc / den)
        t_ab = np.nan_to_num(d1 / (d1 - d3))
        t_ac = np.nan_to_num(d2 / (d2 - d6))
        t_bc = np.nan_to_num((d4 - d3) / ((d4 - d3) + (d5 - d6)))
        bary = np.stack([1 - v_in - w_in, v_in, w_in], axis=1)  # degenerate faces: a region wins
    zero = np.zeros_like(d1)
    cases = [  # first true case wins: apply in reverse so earlier cases overwrite later ones
        ((d1 <= 0) & (d2 <= 0), np.stack([zero + 1, zero, zero], 1)),
        ((d3 >= 0) & (d4 <= d3), np.stack([zero, zero + 1, zero], 1)),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), np.stack([1 - t_ab, t_ab, zero], 1)),
        ((d6 >= 0) & (d5 <= d6), np.stack([zero, zero, zero + 1], 1)),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), np.stack([1 - t_ac, zero, t_ac], 1)),
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), np.stack([zero, 1 - t_bc, t_bc], 1)),
    ]
    for cond, w in reversed(cases):
        bary = np.where(cond[:, None], w, bary)
    return np.clip(bary, 0.0, 1.0)


class SurfaceIndex:
    """Closest surface point queries on one object-frame mesh (built once per shape; reuses a
    ``MeshSDF``'s KD-tree when the shape has one, so real meshes pay for it once)."""

    def __init__(self, mesh: ShapeMesh, sdf: object = None, k: int = CANDIDATES) -> None:
        self.mesh, self.k = mesh, k
        if isinstance(sdf, MeshSDF):
            self._tree, self._face = sdf._tree, sdf._face
        else:
            self._tree, self._face = candidate_index(mesh)
        self.face_normals = mesh.face_normals

    def closest(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Face [N], barycentric weights [N, 3] and distance [N] of the closest surface point
        to each object-frame point."""
        p = np.asarray(p, np.float64)
        k = min(self.k, len(self._face))
        _, idx = self._tree.query(p, k=k)
        faces = self._face[np.asarray(idx).reshape(len(p), k)]
        tri = self.mesh.vertices[self.mesh.faces[faces.reshape(-1)]]
        bary = closest_on_triangles(np.repeat(p, k, axis=0), tri)
        q = np.einsum("nk,nkd->nd", bary, tri)
        d = np.linalg.norm(q - np.repeat(p, k, axis=0), axis=1).reshape(len(p), k)
        j = d.argmin(1)
        rows = np.arange(len(p))
        return faces[rows, j], bary.reshape(len(p), k, 3)[rows, j], d[rows, j]


def material_look(base_color: np.ndarray | tuple[float, float, float]) -> Look:
    """A look whose albedo is the mesh's own material, untinted (texture, else vertex colours,
    else ``base_color`` sRGB): the material a Cycles input (``photo_val``) is rendered with."""
    base = np.asarray(base_color, np.float64)
    return Look(
        base=base,
        second=base,
        pattern="none",
        pattern_freq=1.0,
        pattern_axis=0,
        tint_strength=0.0,
        shininess=1.0,
        specular=0.0,
        metallic=False,
        lights=[],
        sky=np.zeros(3),
        ground=np.zeros(3),
        exposure=1.0,
        shadows=False,
    )


def surface_colors(
    index: SurfaceIndex, look: Look, view: View, points_view: np.ndarray
) -> np.ndarray:
    """uint8 [P, 4]: sRGB base colour of the surface point closest to each view-frame point,
    alpha 255 (known). The same albedo the input render shades, without its light."""
    mesh = index.mesh
    p_obj = view.to_object(np.asarray(points_view, np.float64))
    face, bary, _ = index.closest(p_obj)
    q = np.einsum("nk,nkd->nd", bary, mesh.vertices[mesh.faces[face]])
    vn = mesh.meta.get("_vnormals")
    if vn is None and mesh.meta.get("smooth", True):  # as render._shade_hits does
        vn = mesh.meta["_vnormals"] = mesh.vertex_normals()
    n = shading_normals(mesh, vn, face, bary, index.face_normals)
    rgb = linear_to_srgb(albedo(mesh, look, face, bary, q, n))
    out = np.full((len(p_obj), 4), 255, np.uint8)
    out[:, :3] = np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)
    return out
