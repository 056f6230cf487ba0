"""Real meshes from Debian's libcgal-demo: the .off files inside its doc data.tar.gz.

Near-duplicate variants of one shape (``bear_bis``, ``anchor_dense``, ``cube-shuffled`` ...) are
dropped so that one object can never sit in two splits.
"""

from __future__ import annotations

import re
import tarfile
from functools import lru_cache

import numpy as np

from training.data.mesh import ShapeMesh
from training.data.sources.base import Dropped, Shape
from training.data.sources.install import require_deb
from training.data.sources.real import finish_shape

ORGANIC = {
    "armadillo",
    "bear",
    "bull",
    "camel",
    "cow",
    "diplodocus",
    "dino",
    "elephant",
    "elk",
    "lion",
    "pig",
    "triceratops",
    "bunny00",
    "kitten",
    "ChineseDragon-10kv",
    "hand",
    "head",
    "man",
    "mannequin-devil",
    "homer",
    "mushroom",
    "cactus",
    "femur",
    "bones",
    "nefertiti",
    "lion-head",
    "helmet",
    "mpi",
    "retinal",
    "blob",
    "blobby",
}
MECHANICAL = {
    "anchor",
    "fandisk",
    "pinion",
    "rotor",
    "turbine",
    "blade",
    "joint",
    "part",
    "couplingdown",
    "spool",
    "handle",
    "beam",
    "itemb",
    "dragknob",
    "tripod",
    "boeing",
    "b9_mesh",
    "ALSTOM_TEST4",
    "cheese",
    "cross",
    "knot",
    "knot1",
    "knot2",
    "star",
    "mech-holes-shark",
    "pipe",
    "P",
    "u",
    "eight",
    "3torus",
    "double-torus-3-holes",
    "double-torus-example",
    "hedra",
    "prim",
    "corner",
}
VARIANT = re.compile(
    r"(_dense|_small|_large|_bis|-shuffled|_poly|_quad|_3cc|_locally_refined|"
    r"-closed|-with-holes|-box|_tris_with_hole|_with_hole|_with_sharp_edge|"
    r"-meshed|-ouvert|_triang|-domain|4)$"
)


def parse_off(text: str) -> tuple[np.ndarray, np.ndarray]:
    """OFF/COFF/NOFF text -> vertices [V,3], triangles [F,3] (polygons fan-triangulated).

    Vertex lines may carry normals or colours after x y z; the counts may share the header line.
    """
    lines = [ln.split("#")[0].strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln]
    head = lines[0].split()
    if not head[0].endswith("OFF") or head[0][0].isdigit():
        raise ValueError("not an OFF file this reader understands")
    if len(head) >= 3:  # "OFF nv nf ne"
        counts, start = head[1:], 1
    else:
        counts, start = lines[1].split(), 2
    nv, nf = int(counts[0]), int(counts[1])
    verts = np.array([[float(x) for x in r.split()[:3]] for r in lines[start : start + nv]])
    tris = []
    for r in lines[start + nv : start + nv + nf]:
        vals = r.split()
        k = int(vals[0])
        idx = [int(x) for x in vals[1 : 1 + k]]
        tris += [(idx[0], idx[j], idx[j + 1]) for j in range(1, k - 1)]
    return verts, np.array(tris, np.int64).reshape(-1, 3)


@lru_cache(maxsize=1)
def _archive_names() -> tuple[str, ...]:
    with tarfile.open(require_deb("libcgal-demo")) as tf:
        return tuple(sorted(n for n in tf.getnames() if n.lower().endswith(".off")))


def _stem(name: str) -> str:
    return name.rsplit("/", 1)[-1][:-4]


def base_name(stem: str) -> str:
    """The shape a file is a variant of (``refined_elephant``, ``bear_bis`` -> ``elephant``...)."""
    return VARIANT.sub("", stem.removeprefix("refined_"))


def family_of(stem: str) -> str:
    base = base_name(stem)
    return "organic" if base in ORGANIC else "mechanical" if base in MECHANICAL else "primitive"


class CgalSource:
    name = "cgal"

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        stems = [_stem(n) for n in _archive_names()]
        seen = set(stems)
        out = []
        for s in stems:
            base = base_name(s)
            if base != s and base in seen:  # a variant of a shape that is already listed
                continue
            out.append((f"cgal-{s}", family_of(s)))
        return out[:limit]

    def load(self, shape_id: str, rng: np.random.Generator) -> Shape | Dropped:
        stem = shape_id[len("cgal-") :]
        name = next(n for n in _archive_names() if _stem(n) == stem)
        with tarfile.open(require_deb("libcgal-demo")) as tf:
            text = tf.extractfile(name).read().decode("latin-1")
        try:
            v, f = parse_off(text)
        except (ValueError, IndexError):
            return Dropped(shape_id, "unreadable")
        return finish_shape(shape_id, self.name, family_of(stem), ShapeMesh(v, f), rng)
