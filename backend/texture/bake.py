"""Texel colours: the photo where the input camera sees the surface, a guess elsewhere.

The unseen side's guess is the predictor's colour head (``colour_at``) when it has one; without
one it is the object's median visible colour. The nearest visible point's colour would be the
obvious alternative, but on a thin object the nearest visible point of a back texel is the
front right across, which is exactly the front-on-the-back look this bake exists to remove; the
median is one plain colour of the object, never a copy of its front's pattern.

The colour head is asked at the vertices of the faces the guess shows on, not at every texel,
and its colours are interpolated across each face. Each query is a pass of the point decoder,
and a texture has far more texels than its mesh has vertices (a 50,000-face sphere unwrapped at
1024 px: 486,734 covered texels, 34,497 atlas vertices), while the network's colour varies
slowly across a face.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..contract import CAMERA_DISTANCE, project
from .raster import rasterize
from .unwrap import UVMesh
from .visibility import CameraDepth

ColourFn = Callable[[np.ndarray], np.ndarray]  # view-frame points [N, 3] -> sRGB [N, 3] in 0..1
# The seen weight rises from 0 to 1 as the cosine between the surface normal and the ray to the
# camera goes from SEEN_COS[0] to SEEN_COS[1]: grazing surfaces show the photo smeared, so the
# seam between photo and guess is blended there rather than cut.
SEEN_COS = (0.05, 0.35)
SEEN_ALPHA = (0.3, 0.9)  # and as the photo's alpha goes across the outline's soft edge
GREY = np.array([0.5, 0.5, 0.5])
PADDING = 4  # texels of dilation around each chart (xatlas leaves 2 between charts)


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def bake_texture(uv: UVMesh, normals: np.ndarray, photo: np.ndarray,
                 colour_at: ColourFn | None = None, size: int = 1024) -> np.ndarray:
    """The base-colour texture, uint8 [size, size, 3], row 0 at the top (v = 1).

    uv: the unwrapped mesh (view frame); normals: unit vertex normals [V', 3] of uv.vertices;
    photo: the framed input, uint8 RGBA [H, W, 4] with a transparent background, aligned with
    the model input (``contract.project`` maps view-frame points into it).
    """
    face, bary = rasterize(_uv_pixels(uv, size), size, size)
    covered = face >= 0
    f, b = face[covered], bary[covered]
    corners = uv.faces[f]
    vertices, vertex_normals = uv.vertices.astype(np.float32), normals.astype(np.float32)
    points = np.einsum("kj,kjc->kc", b, vertices[corners])
    normal = np.einsum("kj,kjc->kc", b, vertex_normals[corners])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    weight = seen_weight(points, normal, CameraDepth(uv.vertices, uv.faces))
    seen = np.flatnonzero(weight > 0)
    seen_rgb, alpha = sample_photo(photo, points[seen])
    w = (weight[seen] * smoothstep(*SEEN_ALPHA, alpha))[:, None]
    guessed = np.ones(len(points), bool)  # texels the guess shows in: all but the fully seen
    guessed[seen[w[:, 0] >= 1.0]] = False
    colour = np.zeros((len(points), 3))
    colour[guessed] = unseen_texels(b[guessed], corners[guessed], vertices, photo, colour_at)
    colour[seen] = w * seen_rgb + (1.0 - w) * colour[seen]
    texture = np.zeros((size, size, 3), dtype=np.uint8)
    texture[covered] = np.clip(colour * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return pad(texture, covered)


def _uv_pixels(uv: UVMesh, size: int) -> np.ndarray:
    """Each face's UV corners in texture pixels (x right, y down: row 0 is v = 1)."""
    pix = np.stack([uv.uvs[:, 0] * size, (1.0 - uv.uvs[:, 1]) * size], axis=-1)
    return pix[uv.faces]


def seen_weight(points: np.ndarray, normals: np.ndarray, depth: CameraDepth) -> np.ndarray:
    """0..1 per point: how much of its colour the photo may give (seen and facing the camera;
    the photo's alpha at the point scales it further)."""
    to_camera = np.array([0.0, 0.0, CAMERA_DISTANCE], dtype=np.float32) - points
    to_camera /= np.maximum(np.linalg.norm(to_camera, axis=1, keepdims=True), 1e-12)
    facing = smoothstep(*SEEN_COS, np.einsum("kc,kc->k", normals, to_camera))
    return depth.visible(points) * facing


def sample_photo(photo: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear photo colour (sRGB 0..1, un-premultiplied) and alpha at each point's pixel."""
    h, w = photo.shape[:2]
    rgba = photo.astype(np.float32) / np.float32(255.0)
    premul = np.concatenate([rgba[..., :3] * rgba[..., 3:], rgba[..., 3:]], axis=-1)
    u, v, _ = project(points[:, 0], points[:, 1], points[:, 2])
    x = np.clip((u + 1.0) * 0.5 * w - 0.5, 0.0, w - 1.0)  # grid_sample, align_corners=False
    y = np.clip((v + 1.0) * 0.5 * h - 0.5, 0.0, h - 1.0)
    x0, y0 = np.minimum(x.astype(np.int64), w - 2), np.minimum(y.astype(np.int64), h - 2)
    fx, fy = (x - x0).astype(np.float32)[:, None], (y - y0).astype(np.float32)[:, None]
    flat, at = premul.reshape(-1, 4), y0 * w + x0
    value = ((flat[at] * (1 - fx) + flat[at + 1] * fx) * (1 - fy)
             + (flat[at + w] * (1 - fx) + flat[at + w + 1] * fx) * fy)
    alpha = value[:, 3]
    rgb = value[:, :3] / np.maximum(alpha, 1e-6)[:, None]
    return np.clip(rgb, 0.0, 1.0).astype(np.float64), alpha.astype(np.float64)


def median_colour(photo: np.ndarray) -> np.ndarray:
    """The object's median colour over its solid pixels (grey if it has none)."""
    step = max(1, min(photo.shape[:2]) // 256)  # a 256 px sample: the median barely moves
    photo = photo[::step, ::step]
    solid = photo[..., 3] > 230
    if not solid.any():
        return GREY
    return np.median(photo[solid][:, :3].astype(np.float64), axis=0) / 255.0


def unseen_colour(points: np.ndarray, photo: np.ndarray,
                  colour_at: ColourFn | None) -> np.ndarray:
    """The predictor's colour for each point, or the object's median colour for all."""
    if colour_at is not None:
        predicted = np.asarray(colour_at(points), dtype=np.float64)
        if predicted.shape == points.shape and np.isfinite(predicted).all():
            return np.clip(predicted, 0.0, 1.0)
    return median_colour(photo)[None, :]


def unseen_texels(bary: np.ndarray, corners: np.ndarray, vertices: np.ndarray,
                  photo: np.ndarray, colour_at: ColourFn | None) -> np.ndarray:
    """The guess for texels given by barycentric weights ``bary`` [K,3] on faces ``corners``
    [K,3]: the predictor's colour at those faces' vertices (only those: the fully seen part
    of the mesh is never asked), interpolated, or the median colour ([1,3])."""
    if colour_at is None:  # no head: one colour, nothing to look up per vertex
        return median_colour(photo)[None, :]
    used, local = np.unique(corners, return_inverse=True)
    per_vertex = unseen_colour(vertices[used], photo, colour_at)
    if len(per_vertex) != len(used):
        return per_vertex
    return np.einsum("kj,kjc->kc", bary, per_vertex[local.reshape(corners.shape)])


def pad(texture: np.ndarray, covered: np.ndarray, texels: int = PADDING) -> np.ndarray:
    """Empty texels within ``texels`` of a chart take a neighbouring chart texel's colour; the
    rest (never sampled) take the charts' mean colour.

    Bilinear filtering and mip-maps read texels beside a UV island's border; filled this way
    they hold the island's own colour instead of black, so no dark seams bleed in.
    """
    if covered.all() or not covered.any():
        return texture
    rgba = np.zeros(texture.shape[:2] + (4,), np.uint8)
    rgba[..., :3] = texture
    packed = rgba.view(np.uint32)[..., 0]  # one number per texel: a quarter of the copying
    filled = covered.copy()
    for _ in range(texels):
        grown = filled.copy()
        for dst, src in _NEIGHBOURS:
            take = ~grown[dst] & filled[src]
            np.copyto(packed[dst], packed[src], where=take)
            grown[dst] |= take
        filled = grown
    out = np.ascontiguousarray(rgba[..., :3])
    out[~filled] = texture[covered].mean(axis=0).round().astype(texture.dtype)
    return out


_ALL, _HEAD, _TAIL = slice(None), slice(None, -1), slice(1, None)
# (destination, source) views of the image: each texel and its neighbour below, above, right, left
_NEIGHBOURS = (((_HEAD, _ALL), (_TAIL, _ALL)), ((_TAIL, _ALL), (_HEAD, _ALL)),
               ((_ALL, _HEAD), (_ALL, _TAIL)), ((_ALL, _TAIL), (_ALL, _HEAD)))
