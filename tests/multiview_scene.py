"""A known object photographed from known poses, for the multi-view tests.

An asymmetric object (a block with an arm on its right and a knob on its front) whose faces are
coloured by the direction they face, rendered with the backend's own rasteriser and projection,
so every photo's true pose and framing are known.
"""

from __future__ import annotations

import numpy as np
import trimesh

from backend.contract import project
from backend.multiview.poses import view_rotation
from backend.texture.raster import fragments

# face colour by its object-frame normal: +X, -X, +Y, -Y, +Z, -Z
SIDE_COLOURS = np.array([[220, 40, 40], [40, 180, 60], [240, 220, 60], [90, 90, 90],
                         [50, 80, 220], [200, 120, 30]], np.float64)


def known_object() -> trimesh.Trimesh:
    """Object frame (Y up, front +Z), about 0.6 units tall."""
    body = trimesh.creation.box((0.30, 0.60, 0.22))
    arm = trimesh.creation.box((0.28, 0.08, 0.08))
    arm.apply_translation((0.28, 0.12, 0.0))
    knob = trimesh.creation.box((0.10, 0.10, 0.12))
    knob.apply_translation((-0.06, -0.15, 0.16))
    mesh = trimesh.util.concatenate([body, arm, knob])
    mesh.apply_translation(-mesh.bounding_box.centroid)
    return mesh


def face_colours(mesh: trimesh.Trimesh) -> np.ndarray:
    n = mesh.face_normals
    side = np.argmax(np.abs(n), 1) * 2 + (np.take_along_axis(n, np.argmax(np.abs(n), 1)[:, None],
                                                               1)[:, 0] < 0)
    return SIDE_COLOURS[side]


def in_view(mesh: trimesh.Trimesh, azimuth: float, elevation: float) -> np.ndarray:
    """The object's vertices in the view frame of a camera at (azimuth, elevation)."""
    return np.asarray(mesh.vertices) @ view_rotation(azimuth, elevation).T


def photograph(mesh: trimesh.Trimesh, azimuth: float, elevation: float, size: int = 256,
               scale: float = 1.0, shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """uint8 RGBA [size, size, 4]: the object from that camera, transparent background.

    ``scale`` and ``shift`` (NDC) move the picture in the frame as a real photo's framing would.
    """
    verts = in_view(mesh, azimuth, elevation)
    u, v, depth = project(verts[:, 0], verts[:, 1], verts[:, 2])
    u, v = u * scale + shift[0], v * scale + shift[1]
    tri = np.stack([(u + 1) / 2 * size, (v + 1) / 2 * size], -1)[mesh.faces]
    zbuf = np.full(size * size, np.inf)
    owner = np.full(size * size, -1)
    colours = face_colours(mesh)
    for frag in fragments(tri, size, size):
        z = np.einsum("kj,kj->k", frag.bary, depth[mesh.faces][frag.face])
        order = np.argsort(-z)  # far first: of one pixel's writes the nearest comes last
        pixel, face, z = frag.pixel[order], frag.face[order], z[order]
        nearer = z < zbuf[pixel]
        owner[pixel[nearer]] = face[nearer]
        zbuf[pixel[nearer]] = z[nearer]
    image = np.zeros((size * size, 4), np.uint8)
    hit = owner >= 0
    image[hit, :3] = colours[owner[hit]]
    image[hit, 3] = 255
    return image.reshape(size, size, 4)
