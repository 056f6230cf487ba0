"""Coloured renders for the colour measurement (issue 34): a mesh with its texture or its vertex
colours, ray cast from an orbit camera around the input view frame, and its CIEDE2000 error.

Every render uses one plain light, an ambient term plus a headlight (the light sits at the camera),
so the error measures the surface colour and not a lighting choice; the reference and both
predictions are lit alike. Meshes live in the input camera's view frame (ARCHITECTURE.md 4): the
bundle's mesh.glb as written, the reference moved there by the sample's ``object_to_view``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh
from skimage.color import deltaE_ciede2000, rgb2lab

from training.data.materials import sample_bilinear
from training.data.mesh import ShapeMesh
from training.data.raycast import Caster
from training.data.shading import linear_to_srgb, srgb_to_linear
from training.data.views import View, camera_rays, view_rotation

# (name, azimuth, elevation) of the orbit cameras, degrees, around the input view frame's origin.
VIEWS = (("input", 0.0, 0.0), ("side", 90.0, 0.0), ("back", 180.0, 0.0), ("above", 0.0, 60.0))
AMBIENT = 0.45  # the rest of the light is the headlight, |n . ray|: both sides of a face lit
UNTEXTURED = np.array([0.5, 0.5, 0.5])  # a mesh with neither texture nor vertex colours
IDENTITY_VIEW = View(0.0, 0.0, 1.0)  # Caster's view at azimuth 0, scale 1 maps nothing


@dataclass(frozen=True)
class Render:
    """One coloured render: sRGB in 0..1 (white where nothing is hit) and the covered pixels."""

    rgb: np.ndarray  # float64 [S, S, 3]
    hit: np.ndarray  # bool [S, S]


def moved(mesh: ShapeMesh, matrix: np.ndarray) -> ShapeMesh:
    """A copy of ``mesh`` with its vertices mapped by a 4x4 (or 3x3) matrix, appearance kept."""
    m = np.asarray(matrix, np.float64)
    shift = m[:3, 3] if m.shape == (4, 4) else np.zeros(3)
    return ShapeMesh(mesh.vertices @ m[:3, :3].T + shift, mesh.faces, uv=mesh.uv,
                     texture=mesh.texture, vertex_colors=mesh.vertex_colors)


def load_bundle_mesh(path: Path) -> ShapeMesh:
    """A bundle's mesh.glb with its base-colour texture (v up, as trimesh reads glTF) or its
    vertex colours (sRGB 0..1), in the view frame the glb is written in."""
    tm = trimesh.load(str(path), force="mesh", process=False)
    out = ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))
    visual = tm.visual
    if isinstance(visual, trimesh.visual.TextureVisuals) and visual.uv is not None:
        image = getattr(visual.material, "baseColorTexture", None)
        if image is not None:
            out.uv = np.asarray(visual.uv, np.float64)
            out.texture = np.asarray(image.convert("RGB"))
            return out
    if not isinstance(visual, trimesh.visual.ColorVisuals):
        visual = visual.to_color()
    colours = np.asarray(visual.vertex_colors, np.float64)
    out.vertex_colors = colours[:, :3] / 255.0
    return out


def albedo(mesh: ShapeMesh, face: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """sRGB surface colour at hits: texture by UV, else interpolated vertex colours, else grey."""
    corners = mesh.faces[face]
    if mesh.texture is not None and mesh.uv is not None:
        uv = np.einsum("nk,nkd->nd", bary, mesh.uv[corners])
        return sample_bilinear(mesh.texture, uv[:, 0], uv[:, 1])
    if mesh.vertex_colors is not None:
        return np.einsum("nk,nkd->nd", bary, np.asarray(mesh.vertex_colors)[corners])
    return np.broadcast_to(UNTEXTURED, (len(face), 3))


def render(mesh: ShapeMesh, azimuth: float, elevation: float, size: int = 128) -> Render:
    """Ray cast ``mesh`` (view frame) from the orbit camera at (azimuth, elevation), which sits
    where the input camera would after that turn around the object centre; azimuth 0, elevation
    0 is the input camera itself."""
    cam = moved(mesh, view_rotation(azimuth, elevation))
    origin, dirs = camera_rays(size)
    rgb = np.ones((size * size, 3))
    hit = np.zeros(size * size, bool)
    if len(cam.faces):
        caster = Caster(cam)
        hits = caster.cast(origin, dirs, IDENTITY_VIEW, all_hits=False)
        normals = caster.face_normals[hits.face]
        light = AMBIENT + (1 - AMBIENT) * np.abs((normals * dirs[hits.ray]).sum(1))
        linear = srgb_to_linear(np.clip(albedo(cam, hits.face, hits.bary), 0, 1))
        rgb[hits.ray] = linear_to_srgb(linear * light[:, None])
        hit[hits.ray] = True
    return Render(rgb.reshape(size, size, 3), hit.reshape(size, size))


def colour_error(ref: Render, pred: Render) -> tuple[float | None, int]:
    """Mean CIEDE2000 over the pixels both renders cover, and how many those are (None if 0)."""
    both = ref.hit & pred.hit
    n = int(both.sum())
    if n == 0:
        return None, 0
    de = deltaE_ciede2000(rgb2lab(ref.rgb[both][None]), rgb2lab(pred.rgb[both][None]))
    return float(de.mean()), n


def coverage_iou(ref: Render, pred: Render) -> float:
    """Silhouette IoU of two renders: at the input view it says whether the prediction sits where
    the reference does (a re-framed input would not), elsewhere how well the shape matches."""
    union = int((ref.hit | pred.hit).sum())
    return float((ref.hit & pred.hit).sum() / union) if union else 0.0


def to_uint8(r: Render) -> np.ndarray:
    return np.clip(r.rgb * 255 + 0.5, 0, 255).astype(np.uint8)
