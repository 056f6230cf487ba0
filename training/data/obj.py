"""Wavefront OBJ + MTL models (Sweet Home 3D catalogs) as one ``ShapeMesh`` with one texture.

Our own small reader: trimesh 4.5's OBJ loader drops the UVs of quads written ``v/vt`` (its
vectorised face parser knows 6 and 9 columns only), which is how many catalog models are
written. Polygons are fan-triangulated, corners with different UVs get their own vertices, and
files come through a ``read(name)`` callback so models inside a zip catalog or a jar load the
same way. The renderer takes one texture per mesh, so the dominant textured material's image
becomes an atlas whose bottom strip holds one flat swatch per other material; without a usable
texture the materials' colours (Kd) become per-vertex colours.
"""

from __future__ import annotations

import io
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from training.data.mesh import ShapeMesh, capped_texture

MAX_TILES = 16  # a dominant texture repeated more often than this is reduced to its mean colour
SWATCH = 8  # px per flat-colour cell in the atlas strip

Reader = Callable[[str], bytes]
Tri = tuple[int, int, int, int, int, int, int]  # 3 vertex, 3 UV indices, material


class ObjError(ValueError):
    """The model could not be read (missing file, no geometry)."""


@dataclass
class Part:
    """One material's triangles: their own vertices, UVs when textured, and a flat colour."""

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None
    image: np.ndarray | None  # uint8 RGB
    colour: np.ndarray  # float sRGB 0..1 (Kd, or the texture's mean)

    @property
    def area(self) -> float:
        v = self.vertices[self.faces]
        cross = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
        return float(0.5 * np.linalg.norm(cross, axis=1).sum())


@dataclass
class Material:
    colour: np.ndarray
    texture: str | None = None  # archive path of map_Kd


@dataclass
class ObjData:
    """The parsed file: positions, UVs, and per triangle its corners' indices and material."""

    v: np.ndarray  # [V, 3]
    vt: np.ndarray  # [T, 2]
    tri_v: np.ndarray  # [F, 3] vertex index
    tri_t: np.ndarray  # [F, 3] UV index, -1 where the corner has none
    tri_m: np.ndarray  # [F] index into names
    names: list[str]  # material names in order of first use
    libs: list[str]  # mtllib file names


def read_obj(name: str, read: Reader, default_mtl: bytes | None = None) -> ShapeMesh:
    """Load the OBJ ``name`` (and its MTL and textures, via ``read``) as one mesh.

    ``default_mtl``: a material library used for the materials the file's own libraries lack
    (Sweet Home 3D's own OBJ files use its built-in colours, ``usemtl flblonde`` and the like,
    without ``mtllib``)."""
    try:
        data = parse_obj(read(name).decode("latin-1"))
    except KeyError as exc:
        raise ObjError(f"{name}: not found") from exc
    if len(data.tri_v) == 0:
        raise ObjError(f"{name}: no triangles")
    base = posixpath.dirname(name)
    materials = parse_mtl(default_mtl.decode("latin-1"), "") if default_mtl else {}
    for lib in data.libs:
        path = posixpath.normpath(posixpath.join(base, lib))
        try:
            materials.update(parse_mtl(read(path).decode("latin-1"), posixpath.dirname(path)))
        except KeyError:
            continue
    images: dict[str, np.ndarray | None] = {}
    parts = [_part(data, k, materials.get(m), read, images) for k, m in enumerate(data.names)]
    return merge_parts([p for p in parts if p is not None])  # not empty: there are triangles


def parse_obj(text: str) -> ObjData:
    """v, vt, f (polygons fan-triangulated, negative indices relative), usemtl, mtllib."""
    v: list[list[float]] = []
    vt: list[list[float]] = []
    tris: list[Tri] = []
    names: dict[str, int] = {}
    libs: list[str] = []
    mat = names.setdefault("", 0)
    for line in text.splitlines():
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "v":
            v.append([float(x) for x in tok[1:4]])
        elif tok[0] == "vt":
            vt.append([float(x) for x in (tok[1:3] + ["0"])[:2]])
        elif tok[0] == "f":
            tris += _fan(tok[1:], len(v), len(vt), mat)
        elif tok[0] == "usemtl":
            mat = names.setdefault(" ".join(tok[1:]), len(names))
        elif tok[0] == "mtllib":
            libs.append(line.strip()[6:].strip())
    arr = np.asarray(tris, np.int64).reshape(-1, 7)
    v_arr = np.asarray(v, np.float64).reshape(-1, 3)
    ok = ((arr[:, :3] >= 0) & (arr[:, :3] < len(v_arr))).all(1)
    arr = arr[ok]
    t = arr[:, 3:6]
    t[(t < 0) | (t >= len(vt))] = -1
    return ObjData(
        v_arr,
        np.asarray(vt, np.float64).reshape(-1, 2),
        arr[:, :3],
        t,
        arr[:, 6],
        list(names),
        libs,
    )


def _fan(corners: list[str], nv: int, nt: int, mat: int) -> list[Tri]:
    idx = []
    for c in corners:
        f = c.split("/")
        vi = int(f[0])
        ti = int(f[1]) if len(f) > 1 and f[1] else 0
        idx.append((vi - 1 if vi > 0 else nv + vi, ti - 1 if ti > 0 else (nt + ti if ti else -1)))
    return [
        (idx[0][0], idx[i][0], idx[i + 1][0], idx[0][1], idx[i][1], idx[i + 1][1], mat)
        for i in range(1, len(idx) - 1)
    ]


def parse_mtl(text: str, base: str) -> dict[str, Material]:
    """newmtl, Kd and map_Kd (its file is the last word, after any options)."""
    out: dict[str, Material] = {}
    cur: Material | None = None
    for line in text.splitlines():
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "newmtl":
            cur = out[" ".join(tok[1:])] = Material(np.full(3, 0.8))
        elif cur is not None and tok[0] == "Kd" and len(tok) >= 4:
            cur.colour = np.clip([float(x) for x in tok[1:4]], 0, 1)
        elif cur is not None and tok[0] == "map_Kd" and len(tok) >= 2:
            cur.texture = posixpath.normpath(posixpath.join(base, tok[-1].replace("\\", "/")))
    return out


def _part(
    data: ObjData, k: int, mat: Material | None, read: Reader, images: dict[str, np.ndarray | None]
) -> Part | None:
    """Material ``k``'s triangles with their own vertices (split where UVs differ)."""
    sel = data.tri_m == k
    if not sel.any():
        return None
    mat = mat or Material(np.full(3, 0.8))
    image = None
    if mat.texture is not None:
        if mat.texture not in images:
            images[mat.texture] = _load_image(read, mat.texture)
        image = images[mat.texture]
    tv, tt = data.tri_v[sel], data.tri_t[sel]
    textured = image is not None and (tt >= 0).all()
    key = np.stack([tv, tt if textured else np.zeros_like(tt)], -1).reshape(-1, 2)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    colour = mat.colour if image is None else image.reshape(-1, 3).mean(0) / 255.0
    return Part(
        data.v[uniq[:, 0]],
        inv.reshape(-1, 3),
        data.vt[uniq[:, 1]] if textured else None,
        image,
        np.asarray(colour, np.float64),
    )


def _load_image(read: Reader, name: str) -> np.ndarray | None:
    try:
        return capped_texture(Image.open(io.BytesIO(read(name))))
    except (KeyError, OSError, ValueError, Image.DecompressionBombError):
        return None


def merge_parts(parts: list[Part]) -> ShapeMesh:
    """One mesh: the dominant UV-mapped texture as an atlas with swatches for the other parts,
    else per-vertex colours (each part keeps its own vertices, so colours do not blend)."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts])
    vertices = np.concatenate([p.vertices for p in parts])
    faces = np.concatenate([p.faces + o for p, o in zip(parts, offsets[:-1], strict=True)])
    mesh = ShapeMesh(vertices, faces)
    textured = [k for k, p in enumerate(parts) if p.image is not None and p.uv is not None]
    dom = max(textured, key=lambda k: parts[k].area, default=-1)
    img, uv = (parts[dom].image, parts[dom].uv) if dom >= 0 else (None, None)
    atlas = _tiled(img, uv) if img is not None and uv is not None else None
    if atlas is None:
        mesh.vertex_colors = np.concatenate(
            [np.repeat(p.colour[None], len(p.vertices), 0) for p in parts]
        ).astype(np.float32)
        return mesh
    others = [k for k in range(len(parts)) if k != dom]
    mesh.texture, cell_uv, strip = _with_swatches(atlas[0], [parts[k].colour for k in others])
    half = 0.5 / len(mesh.texture)  # half a texel in v: bilinear lookups stay off the strip
    out = np.zeros((len(vertices), 2))
    out[offsets[dom] : offsets[dom + 1]] = atlas[1] * [1.0, 1.0 - strip - 2 * half] + [
        0.0,
        strip + half,
    ]
    for k, c in zip(others, cell_uv, strict=True):
        out[offsets[k] : offsets[k + 1]] = c
    mesh.uv = out.astype(np.float32)
    return mesh


def _tiled(image: np.ndarray, uv: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The image repeated over the UVs' whole tiles, and the UVs mapped into [0, 1]; None when
    it would repeat more than MAX_TILES times (then the mean colour stands in)."""
    lo = np.floor(uv.min(0) + 1e-4)
    hi = np.maximum(np.ceil(uv.max(0) - 1e-4), lo + 1)
    nu, nv = (hi - lo).astype(int)
    if nu * nv > MAX_TILES:
        return None
    tiled = np.tile(image, (nv, nu, 1))
    return capped_texture(Image.fromarray(tiled)), (uv - lo) / (hi - lo)


def _with_swatches(
    tex: np.ndarray, colours: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray], float]:
    """``tex`` above a strip of SWATCH-px flat cells, one per colour: the atlas, each cell's
    centre UV (v up) and the strip's height as a fraction of the atlas."""
    h, w = tex.shape[:2]
    if w < 4 * SWATCH:  # keep room for a row of cells
        tex = np.asarray(Image.fromarray(tex).resize((4 * SWATCH, h)))
        w = tex.shape[1]
    cols = w // SWATCH
    rows = -(-len(colours) // cols)
    strip = np.zeros((rows * SWATCH, w, 3), np.uint8)
    total = h + len(strip)
    centres = []
    for i, c in enumerate(colours):
        r, q = divmod(i, cols)
        strip[r * SWATCH : (r + 1) * SWATCH, q * SWATCH : (q + 1) * SWATCH] = np.round(
            np.clip(c, 0, 1) * 255
        )
        # strip rows run down the image; v runs up from its bottom row
        v = (len(strip) - (r + 0.5) * SWATCH) / total
        centres.append(np.array([(q + 0.5) * SWATCH / w, v]))
    return np.concatenate([tex, strip]), centres, len(strip) / total
