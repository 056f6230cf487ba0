"""A small watertight repair for game art: close open bottoms.

Many 0 A.D. buildings and props have no floor (they stand on the terrain), which leaves their
winding numbers ambiguous near the base and gets them dropped. Boundary loops that lie in the
bottom sliver of the object's bounding box are filled with an ear-clipped polygon facing down.
Other holes (windows, roofs, cards) are left alone: those meshes are judged as they are.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from training.data.mesh import ShapeMesh, weld

BOTTOM_BAND = 0.03  # fraction of the bbox height that counts as "the bottom"


def boundary_loops(faces: np.ndarray) -> list[list[int]]:
    """Closed chains of boundary edges (edges used by one face), following face orientation."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    count: dict[tuple[int, int], int] = defaultdict(int)
    for a, b in e.tolist():
        count[(min(a, b), max(a, b))] += 1
    nxt: dict[int, int] = {}
    pinched: set[int] = set()  # vertices where two boundary edges leave: loops through them skip
    for a, b in e.tolist():
        if count[(min(a, b), max(a, b))] == 1:
            if a in nxt:
                pinched.add(a)
            nxt[a] = b
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, v = [], start
        while v not in seen and v in nxt:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        if v == start and len(loop) >= 3 and not pinched.intersection(loop):
            loops.append(loop)
    return loops


def _area2(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def ear_clip(poly: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangulate a simple 2D polygon (counter-clockwise) by ear clipping; [] if it fails."""
    idx = list(range(len(poly)))
    tris: list[tuple[int, int, int]] = []

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    guard = 0
    while len(idx) > 3 and guard < 10 * len(poly):
        guard += 1
        for k in range(len(idx)):
            i0, i1, i2 = idx[k - 1], idx[k], idx[(k + 1) % len(idx)]
            a, b, c = poly[i0], poly[i1], poly[i2]
            if cross(a, b, c) <= 1e-12:
                continue  # reflex or degenerate corner
            inside = False
            for j in idx:
                if j in (i0, i1, i2):
                    continue
                p = poly[j]
                if cross(a, b, p) >= 0 and cross(b, c, p) >= 0 and cross(c, a, p) >= 0:
                    inside = True
                    break
            if not inside:
                tris.append((i0, i1, i2))
                idx.pop(k)
                break
        else:
            return []
    if len(idx) == 3:
        tris.append((idx[0], idx[1], idx[2]))
    return tris


def cap_bottom(mesh: ShapeMesh) -> int:
    """Fill boundary loops lying in the bottom band (in place); returns how many were filled."""
    v, f = weld(mesh.vertices, mesh.faces, 1e-6)
    ymin, ymax = v[:, 1].min(), v[:, 1].max()
    band = ymin + BOTTOM_BAND * max(ymax - ymin, 1e-9)
    new_faces = []
    for loop in boundary_loops(f):
        if len(loop) > 400 or v[loop, 1].max() > band:
            continue
        # the cap must run against the loop (each boundary edge a->b gets its twin b->a); ear
        # clipping keeps the order of the sequence it is given, so mirror the 2D projection when
        # needed to make it counter-clockwise without changing that order
        ids = np.asarray(loop[::-1])
        poly = v[ids][:, [0, 2]].copy()
        if _area2(poly) < 0:
            poly[:, 0] *= -1
        tris = ear_clip(poly)
        if not tris:
            continue
        new_faces += [(ids[a], ids[b], ids[c]) for a, b, c in tris]
    if not new_faces:
        return 0
    base = len(mesh.vertices)
    used = np.unique(np.asarray(new_faces))
    remap = {int(u): base + i for i, u in enumerate(used)}
    mesh.vertices = np.concatenate([mesh.vertices, v[used]])
    mesh.faces = np.concatenate(
        [mesh.faces, np.array([[remap[int(i)] for i in t] for t in new_faces])]
    )
    n_new = len(used)
    if mesh.uv is not None:
        mesh.uv = np.concatenate([mesh.uv, np.zeros((n_new, 2), mesh.uv.dtype)])
    if mesh.vertex_colors is not None:
        mesh.vertex_colors = np.concatenate(
            [mesh.vertex_colors, np.repeat(mesh.vertex_colors.mean(0, keepdims=True), n_new, 0)]
        )
    if mesh.meta.get("_vnormals") is not None:
        down = np.tile([0.0, -1.0, 0.0], (n_new, 1))
        mesh.meta["_vnormals"] = np.concatenate([mesh.meta["_vnormals"], down])
    return len(new_faces)
