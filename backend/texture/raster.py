"""Triangles to pixels, vectorised: which triangle covers each pixel centre, and where in it.

One rasteriser serves both the UV bake (triangles in texture space, which never overlap) and the
input camera's depth buffer (triangles in image space, nearest wins).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

CHUNK_CANDIDATES = 2_000_000  # pixel candidates tested at once (memory, not speed)
INSIDE_TOLERANCE = -1e-6  # shared edges count for both triangles, so no pixel falls between


@dataclass(frozen=True)
class Fragments:
    """Pixel centres inside triangles: pixel index (row * width + col), triangle, barycentrics."""

    pixel: np.ndarray  # int64 [K]
    face: np.ndarray  # int64 [K]
    bary: np.ndarray  # float64 [K, 3]


def fragments(tri: np.ndarray, width: int, height: int) -> Iterator[Fragments]:
    """Every (pixel, triangle) pair whose pixel centre lies in the triangle, chunk by chunk.

    tri: [F, 3, 2] corners in pixel units (x to the right, y down; pixel (r, c) has its centre
    at (c + 0.5, r + 0.5)).
    """
    tri = np.asarray(tri, dtype=np.float64)
    x0 = np.clip(np.ceil(tri[..., 0].min(1) - 0.5), 0, width).astype(np.int64)
    x1 = np.clip(np.floor(tri[..., 0].max(1) - 0.5), -1, width - 1).astype(np.int64)
    y0 = np.clip(np.ceil(tri[..., 1].min(1) - 0.5), 0, height).astype(np.int64)
    y1 = np.clip(np.floor(tri[..., 1].max(1) - 0.5), -1, height - 1).astype(np.int64)
    bw, bh = np.maximum(x1 - x0 + 1, 0), np.maximum(y1 - y0 + 1, 0)
    planes = _barycentric_planes(tri, x0, y0)
    counts = np.where(np.isfinite(planes).all(1), bw * bh, 0)
    ends = np.cumsum(counts)
    start = 0
    while start < len(tri):
        limit = (ends[start - 1] if start else 0) + CHUNK_CANDIDATES
        stop = max(int(np.searchsorted(ends, limit, side="right")), start + 1)
        faces = np.arange(start, stop)
        yield from _chunk(faces, counts[faces], x0, y0, bw, planes, width)
        start = stop


def _barycentric_planes(tri: np.ndarray, x0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """Per face, w1 and w2 as planes over the face's box: w = a * dx + b * dy + c, where
    (dx, dy) counts pixels from the box's first centre. [F, 6]; not finite when degenerate."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(np.abs(det) > 1e-12, 1.0 / det, np.nan)
    ox, oy = x0 + 0.5 - a[:, 0], y0 + 0.5 - a[:, 1]
    w1x, w1y = (c[:, 1] - a[:, 1]) * inv, -(c[:, 0] - a[:, 0]) * inv
    w2x, w2y = -(b[:, 1] - a[:, 1]) * inv, (b[:, 0] - a[:, 0]) * inv
    planes = np.stack([w1x, w1y, w1x * ox + w1y * oy, w2x, w2y, w2x * ox + w2y * oy], axis=1)
    return planes.astype(np.float32)  # a box is a few dozen pixels: float32 is exact enough


def _chunk(faces: np.ndarray, counts: np.ndarray, x0: np.ndarray, y0: np.ndarray,
           bw: np.ndarray, planes: np.ndarray, width: int) -> Iterator[Fragments]:
    total = int(counts.sum())
    if total == 0:
        return
    face = np.repeat(faces, counts)
    local = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    width_of = np.repeat(bw[faces], counts)
    dy, dx = np.divmod(local, width_of)
    fy, fx = dy.astype(np.float32), dx.astype(np.float32)
    p = np.repeat(planes[faces], counts, axis=0)
    w1 = p[:, 0] * fx + p[:, 1] * fy + p[:, 2]
    w2 = p[:, 3] * fx + p[:, 4] * fy + p[:, 5]
    w0 = 1.0 - w1 - w2
    inside = (w0 >= INSIDE_TOLERANCE) & (w1 >= INSIDE_TOLERANCE) & (w2 >= INSIDE_TOLERANCE)
    face = face[inside]
    pixel = (y0[face] + dy[inside]) * width + x0[face] + dx[inside]
    bary = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
    yield Fragments(pixel=pixel, face=face, bary=np.clip(bary, 0.0, 1.0))


def rasterize(tri: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the covering triangle (-1 where none) and its barycentrics [H, W, 3].

    Meant for non-overlapping triangles (a UV atlas): where two cover a pixel, one of them wins.
    """
    face = np.full(width * height, -1, dtype=np.int64)
    bary = np.zeros((width * height, 3), dtype=np.float32)
    for frag in fragments(tri, width, height):
        face[frag.pixel] = frag.face
        bary[frag.pixel] = frag.bary
    return face.reshape(height, width), bary.reshape(height, width, 3)


def depth_buffer(tri: np.ndarray, depth: np.ndarray, width: int, height: int) -> np.ndarray:
    """The nearest depth per pixel (inf where no triangle covers it); depth: [F, 3] per corner.

    Depth is interpolated linearly in image space: for triangles a few pixels across, as a
    marching-cubes mesh has, the error is far below the visibility test's tolerance.
    """
    buffer = np.full(width * height, np.inf)
    for frag in fragments(tri, width, height):
        z = np.einsum("kj,kj->k", frag.bary, depth[frag.face])
        np.minimum.at(buffer, frag.pixel, z)
    return buffer.reshape(height, width)
