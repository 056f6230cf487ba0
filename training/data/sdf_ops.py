"""Exact (or conservative) signed distance primitives and CSG operators in numpy.

Every function takes points [N, 3] and returns distances [N], negative inside. Primitives are
built with their own local frame through ``Transform`` so families stay readable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SDF = Callable[[np.ndarray], np.ndarray]


def _len(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", x, x))


def rot(axis: str, deg: float) -> np.ndarray:
    """Rotation matrix about a coordinate axis."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    if axis == "x":
        return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    if axis == "y":
        return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def place(f: SDF, at=(0.0, 0.0, 0.0), r: np.ndarray | None = None) -> SDF:
    """Move a primitive: its local origin goes to ``at`` and its axes are rotated by ``r``."""
    at = np.asarray(at, np.float64)
    if r is None:
        return lambda p: f(p - at)
    rt = np.asarray(r, np.float64)
    return lambda p: f((p - at) @ rt)


def sphere(radius: float) -> SDF:
    return lambda p: _len(p) - radius


def box(half, rounding: float = 0.0) -> SDF:
    """Axis-aligned box with half extents ``half`` and rounded edges of radius ``rounding``."""
    h = np.asarray(half, np.float64) - rounding

    def f(p: np.ndarray) -> np.ndarray:
        q = np.abs(p) - h
        inner = np.minimum(np.maximum(np.maximum(q[:, 0], q[:, 1]), q[:, 2]), 0)
        return _len(np.maximum(q, 0)) + inner - rounding

    return f


def capsule(a, b, radius: float) -> SDF:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ba = b - a
    bb = float(ba @ ba)

    def f(p: np.ndarray) -> np.ndarray:
        pa = p - a
        h = np.clip(pa @ ba / bb, 0, 1)
        return _len(pa - h[:, None] * ba) - radius

    return f


def cylinder(radius: float, half_height: float, rounding: float = 0.0) -> SDF:
    """Capped cylinder along local Y."""

    def f(p: np.ndarray) -> np.ndarray:
        d = np.stack(
            [
                np.hypot(p[:, 0], p[:, 2]) - radius + rounding,
                np.abs(p[:, 1]) - half_height + rounding,
            ],
            1,
        )
        return np.minimum(d.max(1), 0) + _len(np.maximum(d, 0)) - rounding

    return f


def torus(major: float, minor: float) -> SDF:
    """Torus around local Y."""
    return lambda p: np.hypot(np.hypot(p[:, 0], p[:, 2]) - major, p[:, 1]) - minor


def ellipsoid(radii) -> SDF:
    """Conservative ellipsoid distance (Quilez's bound): exact on the surface, a bound elsewhere."""
    r = np.asarray(radii, np.float64)

    def f(p: np.ndarray) -> np.ndarray:
        k0 = _len(p / r)
        k1 = _len(p / (r * r))
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)

    return f


def _seg_dist2(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared 2D distances [N, S] from points [N, 2] to segments a[S, 2] -> b[S, 2]
    (kept per coordinate: reductions over a length-2 axis are slow in numpy)."""
    bax, bay = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    inv = 1.0 / np.maximum(bax * bax + bay * bay, 1e-20)
    pax = p[:, 0:1] - a[None, :, 0]
    pay = p[:, 1:2] - a[None, :, 1]
    h = np.clip((pax * bax + pay * bay) * inv, 0, 1)
    dx, dy = pax - h * bax, pay - h * bay
    return dx * dx + dy * dy


def revolve_polygon(profile) -> SDF:
    """Solid of revolution about Y of a closed 2D polygon in (r >= 0, y): exact distance."""
    poly = np.asarray(profile, np.float64)
    a, b = poly, np.roll(poly, -1, axis=0)

    def f(p: np.ndarray) -> np.ndarray:
        q = np.stack([np.hypot(p[:, 0], p[:, 2]), p[:, 1]], 1)
        return _polygon_sdf2d(q, a, b)

    return f


def revolve_shell(curve, thickness: float) -> SDF:
    """Thin-walled solid of revolution: an open (r, y) polyline thickened by ``thickness``."""
    c = np.asarray(curve, np.float64)
    a, b = c[:-1], c[1:]

    def f(p: np.ndarray) -> np.ndarray:
        q = np.stack([np.hypot(p[:, 0], p[:, 2]), p[:, 1]], 1)
        return np.sqrt(_seg_dist2(q, a, b).min(1)) - thickness

    return f


def extrude_polygon(poly2d, half_depth: float) -> SDF:
    """A 2D polygon in local (x, y) extruded along local z: exact distance."""
    poly = np.asarray(poly2d, np.float64)
    a, b = poly, np.roll(poly, -1, axis=0)

    def f(p: np.ndarray) -> np.ndarray:
        d2 = _polygon_sdf2d(p[:, :2], a, b)
        w = np.stack([d2, np.abs(p[:, 2]) - half_depth], 1)
        return np.minimum(w.max(1), 0) + _len(np.maximum(w, 0))

    return f


def union(*fs: SDF) -> SDF:
    return lambda p: np.min(np.stack([f(p) for f in fs]), axis=0)


def smooth_union(fs: list[SDF], k: float) -> SDF:
    """Polynomial smooth minimum (organic blends); ``k`` is the blend radius."""

    def f(p: np.ndarray) -> np.ndarray:
        d = fs[0](p)
        for g in fs[1:]:
            e = g(p)
            h = np.clip(0.5 + 0.5 * (e - d) / k, 0, 1)
            d = e * (1 - h) + d * h - k * h * (1 - h)
        return d

    return f


def subtract(f: SDF, *holes: SDF) -> SDF:
    return lambda p: np.max(np.stack([f(p)] + [-h(p) for h in holes]), axis=0)


def intersect(*fs: SDF) -> SDF:
    return lambda p: np.max(np.stack([f(p) for f in fs]), axis=0)


def shell(f: SDF, thickness: float) -> SDF:
    return lambda p: np.abs(f(p)) - thickness


def _polygon_sdf2d(q: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Exact signed distance of 2D points q to the closed polygon with edges a[i] -> b[i].

    Distance to the nearest edge, signed by an even-odd crossing test (negative inside).
    """
    d = np.sqrt(_seg_dist2(q, a, b).min(1))
    y0, y1 = a[:, 1][None], b[:, 1][None]
    cond = (y0 > q[:, 1:2]) != (y1 > q[:, 1:2])
    xint = (
        a[:, 0][None]
        + (q[:, 1:2] - y0) / np.where(y1 - y0 == 0, 1e-20, y1 - y0) * (b[:, 0] - a[:, 0])[None]
    )
    inside = (cond & (q[:, 0:1] < xint)).sum(1) % 2 == 1
    return np.where(inside, -d, d)
