"""Household objects photographed on tables: cups on saucers, plates, mugs, cans, boxes, books,
bottles with labels. Exact SDFs from solids of revolution, rounded boxes and cylinders."""

from __future__ import annotations

import numpy as np

from training.data import sdf_ops as S
from training.data.procedural import ProcShape
from training.data.shading import random_colour

U = np.random.Generator


def _shell_profile(rng: U, height: float, r_bottom: float, r_top: float) -> np.ndarray:
    """An open (r, y) polyline from the centre of the base up the wall to the rim."""
    k = rng.uniform(-0.15, 0.25)
    ys = np.linspace(0, height, 10)
    t = ys / height
    rs = r_bottom + (r_top - r_bottom) * t + k * r_top * np.sin(np.pi * t)
    return np.concatenate([[[0.0, 0.0]], np.stack([rs, ys], 1)])


def household(rng: U) -> ProcShape:
    kind = rng.choice(["cup_saucer", "mug", "plate", "can", "box", "book", "bottle"])
    colors = {0: tuple(random_colour(rng)), 1: tuple(random_colour(rng))}
    if kind in ("cup_saucer", "mug"):
        h = rng.uniform(0.5, 0.9) if kind == "mug" else rng.uniform(0.35, 0.55)
        rb = rng.uniform(0.22, 0.35)
        rt = rb * (rng.uniform(1.0, 1.1) if kind == "mug" else rng.uniform(1.2, 1.6))
        wall = rng.uniform(0.02, 0.04)
        y0 = 0.08 if kind == "cup_saucer" else 0.0
        parts = [(S.place(S.revolve_shell(_shell_profile(rng, h, rb, rt), wall), (0, y0, 0)), 0)]
        hr = rng.uniform(0.15, 0.28) * h
        xr = 0.5 * (rb + rt) + hr * 0.5
        handle = S.place(
            S.torus(hr, rng.uniform(0.025, 0.045)), (xr, y0 + h * 0.55, 0), S.rot("x", 90)
        )
        parts.append((S.subtract(handle, S.place(S.cylinder(0.5 * (rb + rt), 2.0), (0, 0, 0))), 0))
        if kind == "cup_saucer":
            sr = rt * rng.uniform(1.6, 2.0)
            saucer = [
                [0.0, 0.0],
                [sr * 0.4, 0.0],
                [sr, 0.06],
                [sr, 0.075],
                [sr * 0.4, 0.02],
                [0.0, 0.02],
            ]
            parts.append((S.revolve_polygon(saucer), 1))
            if rng.random() < 0.7:  # coffee or tea inside
                fill = S.intersect(
                    S.place(S.cylinder(rt * 2, 0.01), (0, y0 + h * 0.85, 0)),
                    S.place(
                        S.revolve_polygon(
                            np.concatenate(
                                [
                                    _shell_profile(rng, h, rb, rt)[1:] * [1, 1],
                                    [[0.0, h]],
                                    [[0.0, 0.0]],
                                ]
                            )
                        ),
                        (0, y0, 0),
                    ),
                )
                parts.append((fill, 2))
                colors[2] = (0.25, 0.13, 0.06)
        return ProcShape(parts, colors=colors)
    if kind == "plate":
        r = rng.uniform(0.6, 1.0)
        d = rng.uniform(0.05, 0.15)
        prof = [[0.0, 0.0], [r * 0.6, 0.0], [r, d], [r, d + 0.02], [r * 0.6, 0.025], [0.0, 0.025]]
        return ProcShape([(S.revolve_polygon(prof), 0)], colors=colors)
    if kind == "can":
        r, h = rng.uniform(0.25, 0.4), rng.uniform(0.6, 1.2)
        body = S.cylinder(r, h / 2, 0.02)
        rims = [(S.place(S.torus(r * 0.97, 0.015), (0, sy * h / 2, 0)), 1) for sy in (-1, 1)]
        return ProcShape([(body, 0)] + rims, colors={**colors, 1: (0.75, 0.75, 0.78)})
    if kind == "box":
        half = rng.uniform(0.15, 0.6, 3)
        return ProcShape([(S.box(half, rounding=rng.uniform(0.0, 0.03)), 0)], colors=colors)
    if kind == "book":
        w, h, t = rng.uniform(0.4, 0.7), rng.uniform(0.55, 1.0), rng.uniform(0.06, 0.2)
        cover = 0.012
        parts = [
            (S.box([w / 2, h / 2, t / 2], 0.004), 1),  # pages
            (S.place(S.box([w / 2 + 0.01, h / 2 + 0.01, cover / 2]), (0.01, 0, t / 2)), 0),
            (S.place(S.box([w / 2 + 0.01, h / 2 + 0.01, cover / 2]), (0.01, 0, -t / 2)), 0),
            (S.place(S.box([cover / 2, h / 2 + 0.01, t / 2 + cover / 2]), (-w / 2, 0, 0)), 0),
        ]
        return ProcShape(parts, colors={**colors, 1: (0.93, 0.9, 0.82)})
    # bottle with a label band and a cap
    rb, h = rng.uniform(0.15, 0.3), rng.uniform(1.0, 1.7)
    neck = rng.uniform(0.25, 0.45) * rb
    shoulder = rng.uniform(0.55, 0.75) * h
    prof = [
        [0.0, 0.0],
        [rb, 0.0],
        [rb, shoulder],
        [neck, shoulder + 0.2 * h * 0.5],
        [neck, h],
        [0.0, h],
    ]
    parts = [
        (S.revolve_polygon(prof), 0),
        (S.place(S.cylinder(rb + 0.005, rng.uniform(0.1, 0.25) * h), (0, shoulder * 0.5, 0)), 1),
        (S.place(S.cylinder(neck * 1.15, 0.04 * h), (0, h, 0)), 2),
    ]
    colors[2] = tuple(random_colour(rng))
    return ProcShape(parts, colors=colors)
