"""Everyday round objects with natural colours: fruit, vegetables, eggs, mushrooms. Real photos
used to judge the model (apples, oranges, mugs...) look like these more than like furniture.
Exact SDFs: solids of revolution of smooth profiles, smooth unions of ellipsoids and capsules."""

from __future__ import annotations

import numpy as np

from training.data import sdf_ops as S
from training.data.procedural import ProcShape

U = np.random.Generator


def _jitter(rng: U, rgb, amount: float = 0.08) -> tuple[float, float, float]:
    c = np.clip(np.asarray(rgb) * rng.uniform(1 - amount, 1 + amount, 3), 0, 1)
    return tuple(float(x) for x in c)


def _round_profile(
    rng: U, radius: float, squash: float, top_dimple: float, bottom_dimple: float, n: int = 40
) -> np.ndarray:
    """A closed (r, y) polygon: a squashed circle with dimples at the poles (apple, tomato)."""
    th = np.linspace(0, np.pi, n)
    bulge = rng.uniform(-0.1, 0.15)
    r = radius * np.sin(th) * (1 + bulge * np.sin(th - 0.3))
    y = -radius * squash * np.cos(th)
    y = y + radius * bottom_dimple * np.exp(-((th / 0.35) ** 2))
    y = y - radius * top_dimple * np.exp(-(((np.pi - th) / 0.35) ** 2))
    return np.stack([r, y], 1)


def _stem(rng: U, top: float, length: float, radius: float) -> S.SDF:
    lean = rng.uniform(-0.3, 0.3, 2) * length
    return S.capsule((0, top - length * 0.4, 0), (lean[0], top + length, lean[1]), radius)


# Complexity exception: a shape grammar with one branch per kind; its rng draws must stay in
# this order, since a frozen shape id names the shape those draws make (old plans stay valid).
def produce(rng: U) -> ProcShape:  # noqa: C901 - one branch per kind, rng draws in a fixed order
    kind = rng.choice(["apple", "orange", "pear", "banana", "lemon", "tomato", "egg", "mushroom"])
    if kind in ("apple", "tomato"):
        r = rng.uniform(0.4, 0.6)
        squash = rng.uniform(0.8, 0.95) if kind == "apple" else rng.uniform(0.65, 0.8)
        prof = _round_profile(rng, r, squash, rng.uniform(0.1, 0.25), rng.uniform(0.0, 0.12))
        parts = [(S.revolve_polygon(prof), 0)]
        top = float(prof[:, 1].max())
        if kind == "apple":
            parts.append((_stem(rng, top - 0.1 * r, rng.uniform(0.15, 0.3), 0.02), 1))
            if rng.random() < 0.4:  # a leaf
                leaf = S.box([0.14, 0.012, 0.06], rounding=0.011)  # exact, unlike a flat ellipsoid
                parts.append((S.place(leaf, (0.1, top + 0.08, 0), S.rot("z", 25)), 2))
            body = rng.choice([(0.75, 0.1, 0.1), (0.55, 0.7, 0.2), (0.85, 0.75, 0.25)])
            colors = {0: _jitter(rng, body), 1: (0.35, 0.25, 0.12), 2: (0.25, 0.5, 0.15)}
        else:
            for i in range(5):  # sepals
                a = 72.0 * i
                sep = S.place(
                    S.ellipsoid([0.12, 0.012, 0.03]), S.rot("y", a) @ [0.08, top, 0], S.rot("y", a)
                )
                parts.append((sep, 1))
            colors = {0: _jitter(rng, (0.85, 0.15, 0.08)), 1: (0.2, 0.45, 0.12)}
        return ProcShape(parts, colors=colors)
    if kind in ("orange", "lemon"):
        r = rng.uniform(0.4, 0.6)
        stretch = rng.uniform(0.95, 1.05) if kind == "orange" else rng.uniform(1.2, 1.45)
        parts = [(S.ellipsoid([r, r * stretch, r]), 0)]
        if kind == "lemon":
            tip = rng.uniform(0.06, 0.1)
            for sy in (-1, 1):
                parts.append((S.place(S.sphere(tip), (0, sy * r * stretch * 0.97, 0)), 0))
            shape = ProcShape(parts, blend=0.08, colors={0: _jitter(rng, (0.95, 0.85, 0.2))})
        else:
            parts.append((S.place(S.cylinder(0.03, 0.02), (0, r * stretch, 0)), 1))
            shape = ProcShape(
                parts, colors={0: _jitter(rng, (0.95, 0.55, 0.1)), 1: (0.3, 0.4, 0.15)}
            )
        return shape
    if kind == "pear":
        rb, rt = rng.uniform(0.35, 0.5), rng.uniform(0.18, 0.28)
        h = rng.uniform(0.45, 0.7)
        parts = [
            (S.sphere(rb), 0),
            (S.place(S.sphere(rt), (0, h, 0)), 0),
            (_stem(rng, h + rt * 0.9, rng.uniform(0.12, 0.25), 0.02), 1),
        ]
        body = rng.choice([(0.7, 0.75, 0.25), (0.6, 0.45, 0.2), (0.8, 0.7, 0.3)])
        return ProcShape(
            parts,
            blend=float(rng.uniform(0.15, 0.3)),
            colors={0: _jitter(rng, body), 1: (0.35, 0.25, 0.12)},
        )
    if kind == "banana":
        n, length = 6, rng.uniform(1.4, 2.0)
        bend = rng.uniform(0.4, 0.9)
        t = np.linspace(-0.5, 0.5, n + 1)
        pts = np.stack([t * length, -bend * 0.5 * (1 - (2 * t) ** 2) * 0.5, np.zeros_like(t)], 1)
        rad = rng.uniform(0.1, 0.16) * (1 - 0.6 * (2 * t) ** 4)
        parts = [
            (S.capsule(pts[i], pts[i + 1], float(min(rad[i], rad[i + 1]))), 0) for i in range(n)
        ]
        parts.append((S.capsule(pts[-1], pts[-1] + [0.15, 0.08, 0], 0.03), 1))
        ripe = rng.choice([(0.95, 0.85, 0.25), (0.7, 0.8, 0.3)])
        return ProcShape(parts, blend=0.05, colors={0: _jitter(rng, ripe), 1: (0.35, 0.3, 0.15)})
    if kind == "egg":
        th = np.linspace(0, np.pi, 40)
        r0, ratio = rng.uniform(0.35, 0.45), rng.uniform(1.2, 1.45)
        r = r0 * np.sin(th) * (1 - 0.12 * np.cos(th))
        prof = np.stack([r, -r0 * ratio * np.cos(th)], 1)
        egg = rng.choice([(0.95, 0.93, 0.88), (0.8, 0.6, 0.42)])
        return ProcShape([(S.revolve_polygon(prof), 0)], colors={0: _jitter(rng, egg, 0.04)})
    # mushroom: a cap of revolution on a stem
    cr, ch = rng.uniform(0.3, 0.6), rng.uniform(0.15, 0.35)
    sh, sr = rng.uniform(0.3, 0.7), rng.uniform(0.06, 0.14)
    th = np.linspace(0, np.pi / 2, 20)
    cap = np.stack([cr * np.cos(th), ch * np.sin(th)], 1)
    cap = np.concatenate([cap, [[0.0, 0.0]]])
    parts = [
        (S.place(S.revolve_polygon(cap), (0, sh, 0)), 0),
        (S.place(S.cylinder(sr, sh / 2, sr * 0.3), (0, sh / 2, 0)), 1),
    ]
    capc = rng.choice([(0.55, 0.35, 0.2), (0.8, 0.15, 0.1), (0.9, 0.85, 0.75)])
    return ProcShape(parts, blend=0.03, colors={0: _jitter(rng, capc), 1: (0.92, 0.9, 0.82)})
