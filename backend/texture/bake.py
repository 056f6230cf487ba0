"""Texel colours: the photos where their cameras see the surface, a guess elsewhere.

Photo 0 is the reference; a several-photo job's other used photos (``ViewPhoto``) each come with
the rotation from the reference view frame to theirs. Each photo is tested on its own (its own
depth buffer, facing, outline); where several see a texel, the one that shows it most squarely
counts most (``blend_looks``). With photo 0 alone the texture is what it was before the others.

Each photo's light is taken off the colours it gives (``delight``: a smooth light fitted over the
seen texels' normals and divided out), so that a texture lit again in Blender is not lit twice.

With a colour head, the photos' colours are also brought to the head's level (``head_level``):
the de-light keeps the photo's exposure, which says little of the albedo, while the head, trained
against albedo on photos lit and exposed many ways, judges the level from the whole photo. One
gain on the luminance of every photo colour, the ratio of the head's median to the photo's over
photo 0's well-seen texels, so the photo's hue and pattern stay and the seam between photo and
guess narrows. Measured in docs/experiments/texture_colour.md ("The seen side at the head's
level").

The unseen side's guess is the predictor's colour head (``colour_at``) when it has one; without
one it is the object's median visible colour (of photo 0's well-seen texels, de-lit); what
de-lighting and the median do to the colour error on held-out textured shapes is measured in
docs/experiments/texture_colour.md. The nearest visible point's
colour would be the obvious alternative, but on a thin object the nearest visible point of a
back texel is the front right across, which is exactly the front-on-the-back look this bake
exists to remove; the median is one plain colour of the object, never a copy of its front's
pattern.

The colour head is asked at the vertices of the faces the guess shows on, not at every texel,
and its colours are interpolated across each face. Each query is a pass of the point decoder,
and a texture has far more texels than its mesh has vertices (a 50,000-face sphere unwrapped at
1024 px: 486,734 covered texels, 34,497 atlas vertices), while the network's colour varies
slowly across a face.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..contract import CAMERA_DISTANCE, project
from ..srgb import linear_to_srgb, srgb_to_linear
from .delight import LUMA, MIN_TEXELS, delit
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
# Several photos on one texel: each counts (how squarely it shows it / the squarest's) ** this.
# Measured (docs/experiments/texture_colour.md): 64 and 8 (near winner-takes-all) were worse than
# 1 on held-out shapes; 0.25 was no clearer better. Each photo carries its own light, and a
# placed photo is never exactly registered: a soft blend averages both out.
BLEND_POWER = 1.0
PADDING = 4  # texels of dilation around each chart, into the gutters xatlas leaves (unwrap.py)
WELL_SEEN = 0.5  # seen weight from which a texel's de-lit colour counts in the median guess
LEVEL_TEXELS = 4000  # well-seen texels the head is asked at to set the photo colours' level
LEVEL_GAIN = (0.5, 2.0)  # the level's gain is kept to this range


def smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class ViewPhoto:
    """Another photo of the object (a several-photo job): framed like photo 0 but for its own
    camera, so ``contract.project`` of points in *its* view frame maps into it."""

    photo: np.ndarray  # uint8 RGBA [H, W, 4], transparent background
    transform: np.ndarray  # 4x4, the reference view frame -> this photo's view frame


def bake_texture(uv: UVMesh, normals: np.ndarray, photo: np.ndarray,
                 colour_at: ColourFn | None = None, size: int = 1024,
                 views: Sequence[ViewPhoto] = ()) -> np.ndarray:
    """The base-colour texture, uint8 [size, size, 3], row 0 at the top (v = 1).

    uv: the unwrapped mesh (view frame); normals: unit vertex normals [V', 3] of uv.vertices;
    photo: the framed input, uint8 RGBA [H, W, 4] with a transparent background, aligned with
    the model input (``contract.project`` maps view-frame points into it); views: the job's
    other used photos, each seen from its own camera (``ViewPhoto``).
    """
    face, bary = rasterize(_uv_pixels(uv, size), size, size)
    covered = face >= 0
    f, b = face[covered], bary[covered]
    corners = uv.faces[f]
    vertices, vertex_normals = uv.vertices.astype(np.float32), normals.astype(np.float32)
    points = np.einsum("kj,kjc->kc", b, vertices[corners])
    normal = np.einsum("kj,kjc->kc", b, vertex_normals[corners])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    looks = [photo_look(photo, points, normal, CameraDepth(uv.vertices, uv.faces))]
    for view in views:
        looks.append(photo_look(view.photo, moved(points, view.transform),
                                moved(normal, view.transform, rotate_only=True),
                                CameraDepth(moved(uv.vertices, view.transform), uv.faces)))
    seen, seen_rgb, w = blend_looks(looks, len(points))
    if colour_at is not None:
        seen_rgb = head_level(seen_rgb, seen, looks[0], points, colour_at)
    guessed = np.ones(len(points), bool)  # texels the guess shows in: all but the fully seen
    guessed[seen[w[:, 0] >= 1.0]] = False
    colour = np.zeros((len(points), 3))
    colour[guessed] = unseen_texels(b[guessed], corners[guessed], vertices,
                                    seen_median(looks[0], photo), colour_at)
    colour[seen] = w * seen_rgb + (1.0 - w) * colour[seen]
    texture = np.zeros((size, size, 3), dtype=np.uint8)
    texture[covered] = np.clip(colour * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return pad(texture, covered)


@dataclass(frozen=True)
class Look:
    """What one photo gives the texels its camera sees (``seen``: their indices)."""

    seen: np.ndarray
    rgb: np.ndarray  # [len(seen), 3] sRGB 0..1
    weight: np.ndarray  # [len(seen)] 0..1: facing, unoccluded, inside the outline
    square: np.ndarray  # [len(seen)] weight x facing cosine: how squarely the photo shows it


def photo_look(photo: np.ndarray, points: np.ndarray, normals: np.ndarray,
               depth: CameraDepth) -> Look:
    """One photo's colours, with its light taken off (``delight``), and weights for texel
    points and normals in its own view frame."""
    cosine = facing_cosine(points, normals)
    weight = seen_weight(points, cosine, depth)
    seen = np.flatnonzero(weight > 0)
    rgb, alpha = sample_photo(photo, points[seen])
    w = weight[seen] * smoothstep(*SEEN_ALPHA, alpha)
    rgb = delit(rgb, normals[seen], w)
    return Look(seen, rgb, w, w * cosine[seen])


def blend_looks(looks: list[Look], count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The texels any photo sees, their photo colour and how much of it they take ([n, 1]).

    Where several photos see a texel, each counts by how squarely it shows it (weight x facing
    cosine: the squarer, the more of its pixels fall on the surface and the less a pose error
    smears it) relative to the squarest, to the power BLEND_POWER. The photos' coverage is their
    best weight: the guess shows only where no photo sees the texel. One photo: its own colour
    and weight, bit for bit.
    """
    seen = np.flatnonzero(_marked(looks, count))
    at = [np.searchsorted(seen, look.seen) for look in looks]  # each look's texels in ``seen``
    weights, square = np.zeros((len(looks), len(seen))), np.zeros((len(looks), len(seen)))
    for k, look in enumerate(looks):
        weights[k, at[k]], square[k, at[k]] = look.weight, look.square
    best = square.max(axis=0)
    strength = (square / np.where(best > 0, best, 1.0)) ** BLEND_POWER
    share = strength / np.where(best > 0, strength.sum(axis=0), 1.0)
    rgb = np.zeros((len(seen), 3))
    for k, look in enumerate(looks):
        rgb[at[k]] += share[k, at[k]][:, None] * look.rgb
    return seen, rgb, weights.max(axis=0)[:, None]


def _marked(looks: list[Look], count: int) -> np.ndarray:
    """Texels some photo's camera sees (a weight above 0 before the outline's alpha)."""
    marked = np.zeros(count, bool)
    for look in looks:
        marked[look.seen] = True
    return marked


def moved(points: np.ndarray, transform: np.ndarray, rotate_only: bool = False) -> np.ndarray:
    """Reference view-frame points [N, 3] (or directions) in another photo's view frame."""
    m = np.asarray(transform, np.float64)
    out = np.asarray(points, np.float64) @ m[:3, :3].T
    return (out if rotate_only else out + m[:3, 3]).astype(points.dtype)


def _uv_pixels(uv: UVMesh, size: int) -> np.ndarray:
    """Each face's UV corners in texture pixels (x right, y down: row 0 is v = 1)."""
    pix = np.stack([uv.uvs[:, 0] * size, (1.0 - uv.uvs[:, 1]) * size], axis=-1)
    return pix[uv.faces]


def seen_weight(points: np.ndarray, cosine: np.ndarray, depth: CameraDepth) -> np.ndarray:
    """0..1 per point: how much of its colour the photo may give (seen, and facing the camera
    by ``cosine``, its ``facing_cosine``; the photo's alpha at the point scales it further)."""
    return depth.visible(points) * smoothstep(*SEEN_COS, cosine)


def facing_cosine(points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """The cosine between each normal and the ray from its point to the camera."""
    to_camera = np.array([0.0, 0.0, CAMERA_DISTANCE], dtype=np.float32) - points
    to_camera /= np.maximum(np.linalg.norm(to_camera, axis=1, keepdims=True), 1e-12)
    return np.einsum("kc,kc->k", normals, to_camera)


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


def head_level(seen_rgb: np.ndarray, seen: np.ndarray, look: Look, points: np.ndarray,
               colour_at: ColourFn) -> np.ndarray:
    """The photo colours ``seen_rgb`` of texels ``seen`` times one luminance gain: the colour
    head's median luminance over the photo's median, in linear light, at up to LEVEL_TEXELS of
    the texels ``look`` (photo 0) shows well. Too few such texels, or a head that answers
    nothing usable: the colours as they are."""
    good = look.seen[look.weight >= WELL_SEEN]
    if len(good) < MIN_TEXELS:
        return seen_rgb
    pick = good[np.linspace(0, len(good) - 1, min(len(good), LEVEL_TEXELS)).astype(int)]
    head = np.asarray(colour_at(points[pick]), dtype=np.float64)
    if head.shape != (len(pick), 3) or not np.isfinite(head).all():
        return seen_rgb
    head_luma = srgb_to_linear(np.clip(head, 0.0, 1.0)) @ LUMA
    photo_luma = srgb_to_linear(seen_rgb[np.searchsorted(seen, pick)]) @ LUMA
    gain = np.median(head_luma) / max(float(np.median(photo_luma)), 1e-4)
    return linear_to_srgb(srgb_to_linear(seen_rgb) * float(np.clip(gain, *LEVEL_GAIN)))


def seen_median(look: Look, photo: np.ndarray) -> np.ndarray:
    """The object's median colour: that of the texels the photo shows well (``WELL_SEEN``),
    de-lit as they are, so that the guess is not lit twice; where it shows none (a mesh that
    misses the photo's outline), the median of the photo's own solid pixels."""
    good = look.weight >= WELL_SEEN
    return np.median(look.rgb[good], axis=0) if good.any() else median_colour(photo)


def median_colour(photo: np.ndarray) -> np.ndarray:
    """The median colour of the photo's solid pixels (grey if it has none)."""
    step = max(1, min(photo.shape[:2]) // 256)  # a 256 px sample: the median barely moves
    photo = photo[::step, ::step]
    solid = photo[..., 3] > 230
    if not solid.any():
        return GREY
    return np.median(photo[solid][:, :3].astype(np.float64), axis=0) / 255.0


def unseen_colour(points: np.ndarray, fallback: np.ndarray,
                  colour_at: ColourFn | None) -> np.ndarray:
    """The predictor's colour for each point, or the object's median colour for all."""
    if colour_at is not None:
        predicted = np.asarray(colour_at(points), dtype=np.float64)
        if predicted.shape == points.shape and np.isfinite(predicted).all():
            return np.clip(predicted, 0.0, 1.0)
    return fallback[None, :]


def unseen_texels(bary: np.ndarray, corners: np.ndarray, vertices: np.ndarray,
                  fallback: np.ndarray, colour_at: ColourFn | None) -> np.ndarray:
    """The guess for texels given by barycentric weights ``bary`` [K,3] on faces ``corners``
    [K,3]: the predictor's colour at those faces' vertices (only those: the fully seen part
    of the mesh is never asked), interpolated, or the object's median colour ``fallback``
    ([1,3])."""
    if colour_at is None:  # no head: one colour, nothing to look up per vertex
        return fallback[None, :]
    # the vertices these faces use, marked rather than sorted out (np.unique with its inverse
    # took 0.3 s for the 1.4 M corners of a 1024 px texture's unseen part)
    marked = np.zeros(len(vertices), dtype=bool)
    marked[corners.ravel()] = True
    used = np.flatnonzero(marked)
    per_vertex = unseen_colour(vertices[used], fallback, colour_at)
    if len(per_vertex) != len(used):
        return per_vertex
    every_vertex = np.zeros((len(vertices), 3))
    every_vertex[used] = per_vertex
    return np.einsum("kj,kjc->kc", bary, every_vertex[corners])


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
