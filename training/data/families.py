"""Procedural shape families with exact SDFs and many continuous parameters.

Each family is ``f(rng) -> ProcShape`` in design units (Y up, roughly within [-1, 1]^3; the
engine normalises afterwards). Colour slots group parts that share a colour.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from training.data import sdf_ops as S
from training.data.procedural import ProcShape

U = np.random.Generator


def _leg(rng: U, a, b, t: float, round_legs: bool) -> S.SDF:
    if round_legs:
        return S.capsule(a, b, t)
    a, b = np.asarray(a, float), np.asarray(b, float)
    mid, half = 0.5 * (a + b), 0.5 * np.linalg.norm(b - a)
    d = (b - a) / (2 * half)
    # tilt the box's Y axis onto the leg direction (legs splay in x/z only a little)
    ax = np.cross([0.0, 1.0, 0.0], d)
    s = np.linalg.norm(ax)
    if s < 1e-6:
        r = np.eye(3)
    else:
        ax = ax / s
        c = float(d[1])
        k = np.array([[0, -ax[2], ax[1]], [ax[2], 0, -ax[0]], [-ax[1], ax[0], 0]])
        r = np.eye(3) + s * k + (1 - c) * (k @ k)
    return S.place(S.box([t, half + t * 0.5, t], rounding=0.3 * t), mid, r)


def chair(rng: U) -> ProcShape:
    w, d = rng.uniform(0.7, 1.2), rng.uniform(0.7, 1.1)
    th, h = rng.uniform(0.05, 0.14), rng.uniform(0.7, 1.1)
    lt, inset, splay = rng.uniform(0.035, 0.08), rng.uniform(0.0, 0.12), rng.uniform(0, 0.1)
    rl = rng.random() < 0.4
    y0 = -0.9
    seat_y = y0 + h
    parts = [
        (S.place(S.box([w / 2, th / 2, d / 2], rounding=rng.uniform(0, th / 2)), (0, seat_y, 0)), 0)
    ]
    for sx in (-1, 1):
        for sz in (-1, 1):
            top = (sx * (w / 2 - lt - inset), seat_y - th / 2, sz * (d / 2 - lt - inset))
            bot = (top[0] + sx * splay, y0, top[2] + sz * splay)
            parts.append((_leg(rng, bot, top, lt, rl), 1))
    if rng.random() < 0.5:  # stretchers
        ys = y0 + rng.uniform(0.15, 0.5) * h
        for sz in (-1, 1):
            z = sz * (d / 2 - lt - inset + splay * 0.5)
            parts.append(
                (
                    S.capsule(
                        (-(w / 2 - lt - inset), ys, z), ((w / 2 - lt - inset), ys, z), lt * 0.6
                    ),
                    1,
                )
            )
    bh, bt, tilt = rng.uniform(0.5, 1.1), rng.uniform(0.04, 0.1), rng.uniform(-3, 18)
    back_c = np.array([0, seat_y + th / 2 + bh / 2, -d / 2 + bt / 2])
    r = S.rot("x", -tilt)
    style = rng.integers(0, 3)
    if style == 0:
        parts.append(
            (S.place(S.box([w / 2, bh / 2, bt / 2], rounding=rng.uniform(0, bt / 2)), back_c, r), 2)
        )
    else:
        rail = rng.uniform(0.06, 0.2) * bh
        parts.append(
            (
                S.place(
                    S.box([w / 2, rail / 2, bt / 2], rounding=0.01),
                    back_c + r @ [0, bh / 2 - rail / 2, 0],
                    r,
                ),
                2,
            )
        )
        n = int(rng.integers(2, 6))
        for i in range(n):
            x = -w / 2 + lt + (w - 2 * lt) * i / (n - 1)
            if style == 1:
                parts.append(
                    (S.place(S.box([lt * 0.8, bh / 2, bt / 2 * 0.8]), back_c + r @ [x, 0, 0], r), 2)
                )
            else:
                parts.append((S.place(S.cylinder(lt * 0.6, bh / 2), back_c + r @ [x, 0, 0], r), 2))
    if rng.random() < 0.35:  # armrests
        ah = rng.uniform(0.15, 0.35)
        for sx in (-1, 1):
            x = sx * (w / 2 - lt)
            parts.append(
                (S.capsule((x, seat_y + ah, -d / 2), (x, seat_y + ah, d / 2 * 0.8), lt * 0.8), 1)
            )
            parts.append(
                (S.capsule((x, seat_y, d / 2 * 0.7), (x, seat_y + ah, d / 2 * 0.75), lt * 0.6), 1)
            )
    return ProcShape(parts)


def table(rng: U) -> ProcShape:
    h, th = rng.uniform(0.5, 1.1), rng.uniform(0.03, 0.12)
    round_top = rng.random() < 0.35
    w, d = rng.uniform(0.8, 1.6), rng.uniform(0.5, 1.2)
    y0 = -0.6
    top_y = y0 + h - th / 2
    if round_top:
        r = rng.uniform(0.4, 0.8)
        parts = [
            (S.place(S.cylinder(r, th / 2, rounding=rng.uniform(0, th / 3)), (0, top_y, 0)), 0)
        ]
        w = d = 1.4 * r
    else:
        parts = [
            (
                S.place(
                    S.box([w / 2, th / 2, d / 2], rounding=rng.uniform(0, th / 2)), (0, top_y, 0)
                ),
                0,
            )
        ]
    lt = rng.uniform(0.025, 0.08)
    if rng.random() < 0.3:  # pedestal
        pr = rng.uniform(0.04, 0.12)
        parts.append((S.place(S.cylinder(pr, (h - th) / 2), (0, y0 + (h - th) / 2, 0)), 1))
        if rng.random() < 0.5:
            br = rng.uniform(0.2, 0.45)
            parts.append((S.place(S.cylinder(br, rng.uniform(0.015, 0.05)), (0, y0 + 0.03, 0)), 1))
        else:
            n = int(rng.integers(3, 6))
            fl = rng.uniform(0.25, 0.5)
            for i in range(n):
                a = 2 * np.pi * i / n
                parts.append(
                    (S.capsule((0, y0 + lt, 0), (fl * np.cos(a), y0 + lt, fl * np.sin(a)), lt), 1)
                )
    else:
        inset = rng.uniform(0.02, 0.15)
        rl = rng.random() < 0.5
        for sx in (-1, 1):
            for sz in (-1, 1):
                x, z = sx * (w / 2 - lt - inset), sz * (d / 2 - lt - inset)
                parts.append((_leg(rng, (x, y0, z), (x, top_y, z), lt, rl), 1))
        if rng.random() < 0.4:  # lower shelf
            sy = y0 + rng.uniform(0.1, 0.4) * h
            parts.append((S.place(S.box([w / 2 - inset, 0.015, d / 2 - inset]), (0, sy, 0)), 0))
        if rng.random() < 0.5:  # apron
            ah = rng.uniform(0.04, 0.12)
            parts.append(
                (
                    S.place(
                        S.box([w / 2 - inset, ah / 2, d / 2 - inset]),
                        (0, top_y - th / 2 - ah / 2, 0),
                    ),
                    1,
                )
            )
    return ProcShape(parts)


def shelf(rng: U) -> ProcShape:
    w, h, d = rng.uniform(0.5, 1.4), rng.uniform(0.5, 1.6), rng.uniform(0.25, 0.6)
    t = rng.uniform(0.02, 0.06)
    parts: list = []
    for sx in (-1, 1):
        parts.append((S.place(S.box([t / 2, h / 2, d / 2]), (sx * (w / 2 - t / 2), 0, 0)), 0))
    n = int(rng.integers(1, 6))
    for i in range(n + 1):
        y = -h / 2 + t / 2 + (h - t) * i / n
        parts.append((S.place(S.box([w / 2, t / 2, d / 2]), (0, y, 0)), 0))
    if rng.random() < 0.6:
        parts.append((S.place(S.box([w / 2, h / 2, t / 4]), (0, 0, -d / 2 + t / 4)), 1))
    if rng.random() < 0.35:  # doors on the lower part, with knobs
        dh = (h - t) * rng.integers(1, n + 1) / n
        parts.append(
            (S.place(S.box([w / 2 - t, dh / 2, t / 3]), (0, -h / 2 + dh / 2, d / 2 - t / 3)), 2)
        )
        for sx in (-1, 1):
            parts.append(
                (S.place(S.sphere(t * 0.8), (sx * 0.1 * w, -h / 2 + dh * 0.6, d / 2 + t / 3)), 3)
            )
    if rng.random() < 0.4:  # feet
        fh = rng.uniform(0.03, 0.12)
        for sx in (-1, 1):
            for sz in (-1, 1):
                parts.append(
                    (
                        S.place(
                            S.cylinder(t, fh / 2),
                            (sx * (w / 2 - t), -h / 2 - fh / 2, sz * (d / 2 - t)),
                        ),
                        3,
                    )
                )
    return ProcShape(parts)


def _profile(rng: U, n: int, r0: float, rmax: float) -> np.ndarray:
    """A smooth random radius profile of n points, used by vessels and lamps."""
    knots = rng.uniform(0.3, 1.0, size=4) * rmax
    knots[0] = r0
    xs = np.linspace(0, 1, 4)
    return np.interp(np.linspace(0, 1, n), xs, knots)


def vessel(rng: U) -> ProcShape:
    kind = rng.choice(["vase", "bottle", "cup", "bowl", "jar"])
    height = {"bowl": rng.uniform(0.3, 0.6), "cup": rng.uniform(0.6, 1.0)}.get(
        kind, rng.uniform(1.0, 1.8)
    )
    rmax = rng.uniform(0.25, 0.6) if kind != "bowl" else rng.uniform(0.6, 0.9)
    n = 12
    ys = np.linspace(0, height, n)
    if kind == "bowl":
        t = np.linspace(0, 1, n)
        rs = rmax * (rng.uniform(0.3, 0.6) + (1 - rng.uniform(0.3, 0.6)) * np.sqrt(t))
    elif kind == "cup":
        rs = np.linspace(rng.uniform(0.7, 1.0), 1.0, n) * rmax * rng.uniform(0.6, 0.9)
    elif kind == "bottle":
        body = rng.uniform(0.5, 0.7)
        neck_r = rng.uniform(0.15, 0.35) * rmax
        rs = np.where(
            ys < body * height,
            rmax,
            neck_r + (rmax - neck_r) * np.clip(1 - (ys - body * height) / (0.15 * height), 0, 1),
        )
    else:
        rs = _profile(rng, n, rng.uniform(0.4, 1.0) * rmax, rmax)
        rs[-1] = rs[-1] * rng.uniform(0.6, 1.2)
    curve = np.concatenate([[[0.0, 0.0]], np.stack([rs, ys], 1)])
    wall = rng.uniform(0.015, 0.04)
    y_shift = -height / 2
    parts = [(S.place(S.revolve_shell(curve, wall), (0, y_shift, 0)), 0)]
    if kind == "jar":  # a lid
        parts.append(
            (S.place(S.cylinder(rs[-1] + wall, 0.04, 0.01), (0, y_shift + height + 0.02, 0)), 1)
        )
        parts.append((S.place(S.sphere(0.06), (0, y_shift + height + 0.08, 0)), 1))
    if kind == "cup" or (kind == "vase" and rng.random() < 0.3):
        hr = rng.uniform(0.12, 0.25) * height
        yc = y_shift + height * rng.uniform(0.45, 0.6)
        xr = float(np.interp(yc - y_shift, ys, rs))
        handle = S.place(S.torus(hr, rng.uniform(0.02, 0.05)), (xr, yc, 0), S.rot("x", 90))
        parts.append((S.subtract(handle, S.place(S.cylinder(xr, 2.0), (0, 0, 0))), 1))
    if kind == "vase" and rng.random() < 0.5:  # foot ring
        parts.append((S.place(S.cylinder(rs[0] * 1.1, 0.03, 0.01), (0, y_shift, 0)), 1))
    return ProcShape(parts)


def lamp(rng: U) -> ProcShape:
    base_r, base_h = rng.uniform(0.15, 0.4), rng.uniform(0.03, 0.12)
    y0 = -0.9
    parts: list = []
    if rng.random() < 0.6:
        parts.append(
            (S.place(S.cylinder(base_r, base_h / 2, base_h / 4), (0, y0 + base_h / 2, 0)), 0)
        )
    else:
        parts.append(
            (
                S.place(
                    S.box([base_r, base_h / 2, base_r * 0.8], base_h / 4), (0, y0 + base_h / 2, 0)
                ),
                0,
            )
        )
    pr = rng.uniform(0.015, 0.04)
    p0 = np.array([0, y0 + base_h, 0])
    if rng.random() < 0.5:  # straight floor/table lamp with a shade
        top = p0 + [0, rng.uniform(0.8, 1.5), 0]
        parts.append((S.capsule(p0, top, pr), 1))
        sh = rng.uniform(0.25, 0.5)
        r_top, r_bot = rng.uniform(0.1, 0.3), rng.uniform(0.2, 0.45)
        curve = [[r_bot, 0.0], [r_top, sh]]
        parts.append(
            (
                S.place(
                    S.revolve_shell(curve, rng.uniform(0.01, 0.025)),
                    top - [0, sh * rng.uniform(0.3, 0.7), 0],
                ),
                2,
            )
        )
    else:  # desk lamp: two arms and a head
        a1, a2 = rng.uniform(-40, 40), rng.uniform(30, 120)
        l1, l2 = rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.7)
        d1 = np.array([np.sin(np.radians(a1)), np.cos(np.radians(a1)), 0])
        j = p0 + l1 * d1
        d2 = np.array([np.sin(np.radians(a2)), np.cos(np.radians(a2)), 0])
        e = j + l2 * d2
        parts += [
            (S.capsule(p0, j, pr), 1),
            (S.capsule(j, e, pr), 1),
            (S.place(S.sphere(pr * 1.8), j), 1),
        ]
        hr = rng.uniform(0.08, 0.2)
        head = S.revolve_shell([[0.02, 0.0], [hr * 0.4, -0.05], [hr, -hr * 1.3]], 0.012)
        parts.append((S.place(head, e, S.rot("z", rng.uniform(-30, 30))), 2))
    return ProcShape(parts)


def vehicle(rng: U) -> ProcShape:
    length, width = rng.uniform(1.2, 2.0), rng.uniform(0.5, 0.85)
    wr, ww = rng.uniform(0.12, 0.22), rng.uniform(0.06, 0.14)
    ground = -0.4
    body_lo = ground + wr * rng.uniform(0.9, 1.3)
    truck = rng.random() < 0.3
    parts: list = []
    if truck:
        cab_l = length * rng.uniform(0.25, 0.35)
        bh = rng.uniform(0.35, 0.6)
        parts.append(
            (
                S.place(
                    S.box([cab_l / 2, bh / 2, width / 2], 0.04),
                    (length / 2 - cab_l / 2, body_lo + bh / 2, 0),
                ),
                0,
            )
        )
        ch = rng.uniform(0.35, 0.7)
        parts.append(
            (
                S.place(
                    S.box([(length - cab_l) / 2 - 0.03, ch / 2, width / 2 * 1.05], 0.02),
                    (-cab_l / 2 - 0.03, body_lo + ch / 2, 0),
                ),
                1,
            )
        )
    else:
        hb = rng.uniform(0.15, 0.3)  # body height
        roof = rng.uniform(0.15, 0.3)
        L = length / 2
        a, b = rng.uniform(0.1, 0.35), rng.uniform(0.15, 0.4)  # windshield and rear positions
        prof = [
            (-L, body_lo),
            (L, body_lo),
            (L, body_lo + hb * rng.uniform(0.6, 1.0)),
            (L * (1 - a), body_lo + hb),
            (L * (0.4 - a), body_lo + hb + roof),
            (-L * (1 - b), body_lo + hb + roof),
            (-L, body_lo + hb * rng.uniform(0.7, 1.3)),
        ]
        body = S.extrude_polygon(prof, width / 2)
        rounding = float(rng.uniform(0.01, 0.04))
        parts.append((lambda p, f=body, r=rounding: f(p) - r, 0))
    nax = 3 if truck and rng.random() < 0.5 else 2
    xs = np.linspace(length / 2 - wr * 1.6, -length / 2 + wr * 1.6, nax)
    for x in xs:
        for sz in (-1, 1):
            c = (x, ground + wr, sz * (width / 2 - ww / 2 + rng.uniform(0.0, 0.05)))
            parts.append((S.place(S.cylinder(wr, ww / 2, ww * 0.3), c, S.rot("x", 90)), 2))
    if not truck and rng.random() < 0.25:  # spoiler
        parts.append(
            (S.place(S.box([0.05, 0.01, width / 2]), (-length / 2 + 0.06, body_lo + 0.35, 0)), 1)
        )
    return ProcShape(parts)


def airplane(rng: U) -> ProcShape:
    fl, fr = rng.uniform(1.4, 2.0), rng.uniform(0.07, 0.16)
    zf = fl / 2
    parts: list = [(S.capsule((0, 0, -zf), (0, 0, zf), fr), 0)]
    span, chord = rng.uniform(1.2, 2.2), rng.uniform(0.2, 0.45)
    sweep, taper = rng.uniform(-0.05, 0.5), rng.uniform(0.3, 1.0)
    wz = rng.uniform(-0.2, 0.3)
    wy = rng.uniform(-0.6, 0.6) * fr
    wt = rng.uniform(0.015, 0.04)
    half = span / 2
    plan = [
        (0, wz + chord / 2),
        (half, wz + chord / 2 - sweep * half),
        (half, wz + chord / 2 - sweep * half - chord * taper),
        (0, wz - chord / 2),
    ]
    plan = plan + [(-x, z) for x, z in reversed(plan)]
    # the polygon lives in local (x, y) = (x, z) and is extruded along local z = -y
    wing = S.extrude_polygon(plan, wt)
    parts.append((S.place(wing, (0, wy, 0), S.rot("x", 90)), 1))
    ts = rng.uniform(0.25, 0.5) * span / 2
    tc = chord * rng.uniform(0.5, 0.8)
    tplan = [(0, -zf + tc), (ts, -zf + tc * 0.4), (ts, -zf), (0, -zf - tc * 0.2)]
    tplan = tplan + [(-x, z) for x, z in reversed(tplan)]
    parts.append((S.place(S.extrude_polygon(tplan, wt * 0.8), (0, fr * 0.3, 0), S.rot("x", 90)), 1))
    fh = rng.uniform(0.2, 0.45)
    fin = [(-zf - tc * 0.2, 0.0), (-zf + tc, 0.0), (-zf + tc * 0.2, fh), (-zf - tc * 0.1, fh)]
    parts.append((S.place(S.extrude_polygon(fin, wt * 0.8), (0, 0, 0), S.rot("y", -90)), 2))
    ne = int(rng.choice([0, 2, 4]))
    er, el = rng.uniform(0.04, 0.09), rng.uniform(0.15, 0.35)
    for i in range(ne):
        x = (1 if i % 2 else -1) * half * (0.3 if i < 2 else 0.6)
        parts.append(
            (
                S.place(
                    S.cylinder(er, el / 2, er * 0.3), (x, wy - er - wt, wz + 0.05), S.rot("x", 90)
                ),
                3,
            )
        )
    return ProcShape(parts)


# Complexity exception: a shape grammar with one branch per kind; its rng draws must stay in
# this order, since a frozen shape id names the shape those draws make (old plans stay valid).
def mechanical(rng: U) -> ProcShape:  # noqa: C901 - one branch per kind, rng draws in a fixed order
    kind = rng.choice(["flange", "bracket", "gear", "block"])
    holes: list = []
    parts: list = []
    if kind in ("flange", "gear"):
        r, t = rng.uniform(0.5, 1.0), rng.uniform(0.08, 0.3)
        parts.append((S.cylinder(r, t / 2, rng.uniform(0, 0.03)), 0))
        hub_r = rng.uniform(0.15, 0.4) * r
        hub_h = t / 2 + rng.uniform(0.0, 0.4)
        parts.append((S.place(S.cylinder(hub_r, hub_h / 2 + t / 4), (0, hub_h / 2, 0)), 1))
        holes.append(S.cylinder(hub_r * rng.uniform(0.3, 0.8), 2.0))
        if kind == "gear":
            n = int(rng.integers(8, 28))
            tw, td = rng.uniform(0.3, 0.6) * np.pi * r / n, rng.uniform(0.06, 0.15)
            for i in range(n):
                a = 360.0 * i / n
                c = S.rot("y", a) @ [r + td / 2 - 0.01, 0, 0]
                parts.append((S.place(S.box([td / 2, t / 2, tw / 2], 0.005), c, S.rot("y", a)), 0))
        n = int(rng.integers(0, 9))
        br = rng.uniform(0.03, 0.08)
        for i in range(n):
            a = 2 * np.pi * i / n
            rr = rng.uniform(0.55, 0.8) * r
            holes.append(S.place(S.cylinder(br, 2.0), (rr * np.cos(a), 0, rr * np.sin(a))))
    else:
        w, h, d = rng.uniform(0.6, 1.4), rng.uniform(0.1, 0.3), rng.uniform(0.4, 1.0)
        parts.append((S.box([w / 2, h / 2, d / 2], rng.uniform(0, h / 3)), 0))
        if kind == "bracket":
            vh = rng.uniform(0.4, 1.0)
            parts.append(
                (S.place(S.box([w / 2, vh / 2, h / 2], 0.01), (0, vh / 2, -d / 2 + h / 2)), 0)
            )
            for sx in (-1, 1):
                if rng.random() < 0.6:  # gusset
                    g = S.extrude_polygon([(0, 0), (0.4 * d, 0), (0, 0.6 * vh)], h / 4)
                    parts.append(
                        (S.place(g, (sx * (w / 2 - h / 4), h / 2, -d / 2 + h), S.rot("y", -90)), 1)
                    )
            for _ in range(int(rng.integers(1, 4))):
                holes.append(
                    S.place(
                        S.cylinder(rng.uniform(0.03, 0.1), 2.0),
                        (rng.uniform(-w / 3, w / 3), rng.uniform(0.25, 0.8) * vh, 0),
                        S.rot("x", 90),
                    )
                )
        else:
            for _ in range(int(rng.integers(0, 3))):
                bs = rng.uniform(0.1, 0.3)
                parts.append(
                    (
                        S.place(
                            S.cylinder(bs, rng.uniform(0.1, 0.3)),
                            (rng.uniform(-w / 3, w / 3), h / 2, rng.uniform(-d / 3, d / 3)),
                        ),
                        1,
                    )
                )
            if rng.random() < 0.5:  # slot
                holes.append(
                    S.place(S.box([w * 0.3, 1.0, rng.uniform(0.03, 0.1)], 0.02), (0, 0, 0))
                )
        for _ in range(int(rng.integers(1, 5))):
            holes.append(
                S.place(
                    S.cylinder(rng.uniform(0.03, 0.09), 2.0),
                    (rng.uniform(-w / 2.5, w / 2.5), 0, rng.uniform(-d / 2.5, d / 2.5)),
                )
            )
    return ProcShape(parts, holes)


def blob(rng: U) -> ProcShape:
    n = int(rng.integers(3, 10))
    parts: list = []
    centres = [np.zeros(3)]
    for i in range(n):
        c = centres[int(rng.integers(0, len(centres)))] + rng.normal(0, 0.2, 3)
        c = np.clip(c, -0.8, 0.8)
        centres.append(c)
        if rng.random() < 0.6:
            r = rng.uniform(0.12, 0.4, 3)
            parts.append(
                (
                    S.place(
                        S.ellipsoid(r),
                        c,
                        S.rot("y", rng.uniform(0, 360)) @ S.rot("x", rng.uniform(0, 360)),
                    ),
                    i % 3,
                )
            )
        else:
            e = np.clip(c + rng.normal(0, 0.3, 3), -0.9, 0.9)
            parts.append((S.capsule(c, e, rng.uniform(0.06, 0.2)), i % 3))
    return ProcShape(parts, blend=float(rng.uniform(0.05, 0.25)))


def _primitive(rng: U, scale: float) -> S.SDF:
    k = rng.integers(0, 5)
    s = scale * rng.uniform(0.5, 1.0, 3)
    if k == 0:
        f = S.box(s, rounding=rng.uniform(0, 0.3) * s.min())
    elif k == 1:
        f = S.sphere(s[0])
    elif k == 2:
        f = S.cylinder(s[0], s[1], rng.uniform(0, 0.3) * min(s[0], s[1]))
    elif k == 3:
        f = S.torus(s[0], s[0] * rng.uniform(0.15, 0.45))
    else:
        f = S.ellipsoid(s)
    r = S.rot("y", rng.uniform(0, 360)) @ S.rot("x", rng.uniform(0, 360))
    return S.place(f, rng.uniform(-0.35, 0.35, 3) * scale * 1.5, r)


def csg(rng: U) -> ProcShape:
    parts = [(_primitive(rng, 0.6), 0)]
    for i in range(int(rng.integers(0, 4))):
        parts.append((_primitive(rng, rng.uniform(0.25, 0.5)), 1 + i % 3))
    holes = [_primitive(rng, rng.uniform(0.2, 0.45)) for _ in range(int(rng.integers(0, 4)))]
    if rng.random() < 0.3:  # clip everything by one more primitive: (A u B) n C = (A n C) u (B n C)
        clip = _primitive(rng, 0.8)
        parts = [(S.intersect(f, clip), slot) for f, slot in parts]
    return ProcShape(parts, holes)


def creature(rng: U) -> ProcShape:
    """Four-legged animal-like figures from capsules and ellipsoids, smoothly blended."""
    bl, bh = rng.uniform(0.5, 1.0), rng.uniform(0.15, 0.3)
    leg_l, leg_r = rng.uniform(0.3, 0.7), rng.uniform(0.04, 0.09)
    y = -0.8 + leg_l + bh * 0.5
    parts = [(S.place(S.ellipsoid([bl / 2, bh, bh * rng.uniform(0.8, 1.1)]), (0, y, 0)), 0)]
    for sx in (-1, 1):
        for sz in (-1, 1):
            top = (sx * bl * 0.35, y - bh * 0.3, sz * bh * 0.6)
            bot = (top[0] + rng.uniform(-0.1, 0.1), -0.8, top[2])
            parts.append((S.capsule(top, bot, leg_r), 1))
    nl, na = rng.uniform(0.2, 0.6), np.radians(rng.uniform(20, 80))
    neck_top = np.array([bl / 2 + nl * np.cos(na), y + nl * np.sin(na), 0])
    parts.append((S.capsule((bl * 0.4, y, 0), neck_top, rng.uniform(0.05, 0.12)), 0))
    hs = rng.uniform(0.08, 0.18)
    parts.append(
        (
            S.place(
                S.ellipsoid([hs * rng.uniform(1.0, 1.8), hs, hs * 0.9]), neck_top + [hs * 0.5, 0, 0]
            ),
            2,
        )
    )
    if rng.random() < 0.7:
        tl = rng.uniform(0.1, 0.6)
        parts.append(
            (
                S.capsule(
                    (-bl * 0.45, y, 0),
                    (-bl * 0.45 - tl, y + rng.uniform(-0.3, 0.4) * tl, 0),
                    rng.uniform(0.02, 0.06),
                ),
                1,
            )
        )
    return ProcShape(parts, blend=float(rng.uniform(0.03, 0.1)))


FAMILIES: dict[str, Callable[[U], ProcShape]] = {
    "chair": chair,
    "table": table,
    "shelf": shelf,
    "vessel": vessel,
    "lamp": lamp,
    "vehicle": vehicle,
    "airplane": airplane,
    "mechanical": mechanical,
    "blob": blob,
    "csg": csg,
    "creature": creature,
}


def _extra_families() -> dict[str, Callable[[U], ProcShape]]:
    from training.data.family_household import household
    from training.data.family_produce import produce

    return {"produce": produce, "household": household}


# every family by name; FAMILIES (above) is the frozen list of the "procedural" source
ALL_FAMILIES: dict[str, Callable[[U], ProcShape]] = {**FAMILIES, **_extra_families()}
EVERYDAY_FAMILIES = ("produce", "household")
