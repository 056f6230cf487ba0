"""The triangle mesh every source hands to the renderer, with its optional appearance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

MAX_TEXTURE = 512  # longest texture side a shape keeps, for every source and the OBJ atlas


@dataclass
class ShapeMesh:
    """A mesh in the normalised object frame (Y-up, bbox centre at 0, bbox diagonal 1).

    Appearance is optional and layered: a texture with per-vertex UVs, else per-vertex colours
    (sRGB in 0..1), else the renderer picks a random material.
    """

    vertices: np.ndarray  # float64 [V, 3]
    faces: np.ndarray  # int64 [F, 3]
    uv: np.ndarray | None = None  # float32 [V, 2], v up
    texture: np.ndarray | None = None  # uint8 [H, W, 3 or 4]
    vertex_colors: np.ndarray | None = None  # float32 [V, 3] sRGB 0..1
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vertices = np.asarray(self.vertices, np.float64)
        self.faces = np.asarray(self.faces, np.int64)

    @property
    def face_normals(self) -> np.ndarray:
        v = self.vertices[self.faces]
        n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)

    @property
    def face_areas(self) -> np.ndarray:
        v = self.vertices[self.faces]
        return 0.5 * np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1)

    def vertex_normals(self) -> np.ndarray:
        """Area-weighted vertex normals (a smooth-shading guess when the source gives none)."""
        v = self.vertices[self.faces]
        n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        out = np.zeros_like(self.vertices)
        for k in range(3):
            np.add.at(out, self.faces[:, k], n)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-20)

    def sample_surface(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` area-uniform surface points and the faces they lie on."""
        key = (id(self.vertices), id(self.faces))
        if self.meta.get("_area_key") != key:  # cached: views of one shape share it
            areas = self.face_areas
            self.meta["_area_prob"], self.meta["_area_key"] = areas / areas.sum(), key
        prob = self.meta["_area_prob"]
        fi = rng.choice(len(self.faces), size=n, p=prob)
        r1, r2 = rng.random(n), rng.random(n)
        s = np.sqrt(r1)
        w = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)
        pts = np.einsum("nk,nkd->nd", w, self.vertices[self.faces[fi]])
        return pts, fi


def capped_texture(image: Image.Image) -> np.ndarray:
    """``image`` as an RGB uint8 array no larger than MAX_TEXTURE px on its longest side (shrunk
    with its aspect kept), the form every source hands ``ShapeMesh.texture``.

    Converting may decode a lazily opened file, so it can raise OSError or ValueError."""
    rgb = image.convert("RGB")
    if max(rgb.size) > MAX_TEXTURE:
        rgb.thumbnail((MAX_TEXTURE, MAX_TEXTURE))
    return np.asarray(rgb)


def normalise_vertices(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre the bounding box at the origin and scale its diagonal to 1 (ARCHITECTURE.md 4).

    Returns the new vertices, the old centre and the scale factor applied.
    """
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(0), v.max(0)
    centre = 0.5 * (lo + hi)
    diag = float(np.linalg.norm(hi - lo))
    k = 1.0 / max(diag, 1e-12)
    return (v - centre) * k, centre, k


def weld(
    vertices: np.ndarray, faces: np.ndarray, tol: float = 1e-7
) -> tuple[np.ndarray, np.ndarray]:
    """Merge vertices closer than ``tol`` (grid-rounded) and drop degenerate faces, so that
    watertightness and winding numbers see one surface where a file split it at UV seams."""
    q = np.round(np.asarray(vertices) / tol).astype(np.int64)
    _, first, inv = np.unique(q, axis=0, return_index=True, return_inverse=True)
    f = inv.reshape(-1)[faces]
    ok = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    return np.asarray(vertices)[first], f[ok]
