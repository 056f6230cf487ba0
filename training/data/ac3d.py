"""Reader for AC3D (.ac, "AC3Db") models, the format of FlightGear's scenery objects.

Only what a training shape needs is kept: the polygons of the OBJECT tree in world coordinates
(``loc`` and ``rot`` accumulated down the tree), per-corner UVs (``texrep``/``texoff`` applied),
the material colours and the textures. Lines (SURF types 1 and 2), names, data blocks, creases and
urls are skipped. The shape carries one texture (``ShapeMesh`` has one): the one covering the
largest area; faces under no texture or another one are coloured by their material (times the
other texture's mean colour), and point at the texel of the dominant texture nearest that colour,
since a mesh with a texture is drawn from the texture alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from training.data.mesh import ShapeMesh, capped_texture

_QUOTED = re.compile(r'"([^"]*)"')
_SKIPPED = {"name", "crease", "url", "hidden", "locked", "folded", "subdiv", "shader"}


class Ac3dError(ValueError):
    """The file is not an AC3D model this reader understands; the message says where."""


@dataclass
class _Poly:
    """One OBJECT's polygons, fan-triangulated, with its vertices already in world coordinates."""

    vertices: np.ndarray  # [V, 3]
    corners: np.ndarray  # int [F, 3] indices into vertices
    uv: np.ndarray  # float [F, 3, 2] per corner, texrep/texoff applied
    mats: np.ndarray  # int [F] material index
    texture: str | None


@dataclass
class Ac3dModel:
    """A parsed file: material colours (sRGB 0..1) and the polygons of every OBJECT."""

    materials: list[tuple[float, float, float]]
    polys: list[_Poly] = field(default_factory=list)


@dataclass
class _Obj:
    """What an OBJECT block has said so far."""

    rot: np.ndarray = field(default_factory=lambda: np.eye(3))
    loc: np.ndarray = field(default_factory=lambda: np.zeros(3))
    texture: str | None = None
    texrep: np.ndarray = field(default_factory=lambda: np.ones(2))
    texoff: np.ndarray = field(default_factory=lambda: np.zeros(2))
    vertices: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    corners: list[tuple[int, int, int]] = field(default_factory=list)
    uv: list[tuple[tuple[float, float], ...]] = field(default_factory=list)
    mats: list[int] = field(default_factory=list)


class _Lines:
    """The file's non-empty lines with a cursor, so errors can name the line."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.i = 0

    def next(self) -> str:
        while self.i < len(self.lines):
            line = self.lines[self.i].strip()
            self.i += 1
            if line:
                return line
        raise Ac3dError("unexpected end of file")

    def fail(self, msg: str) -> Ac3dError:
        return Ac3dError(f"line {self.i}: {msg}")


def _floats(r: _Lines, toks: list[str], n: int) -> np.ndarray:
    try:
        vals = [float(t) for t in toks[:n]]
    except ValueError:
        raise r.fail(f"expected {n} numbers, got {' '.join(toks)!r}") from None
    if len(vals) != n:
        raise r.fail(f"expected {n} numbers, got {len(vals)}")
    return np.array(vals)


def _int(r: _Lines, tok: str) -> int:
    try:
        value = int(tok, 0) if tok.lower().startswith("0x") else int(tok)
    except ValueError:
        raise r.fail(f"expected an integer, got {tok!r}") from None
    if value < 0:
        raise r.fail(f"negative count {value}")
    return value


def _material(r: _Lines, line: str) -> tuple[float, float, float]:
    """The diffuse colour: the three numbers after ``rgb``, or after the name's first keyword
    (a few FlightGear files misspell it)."""
    toks = _QUOTED.sub(" _ ", line).split()
    k = toks.index("rgb") if "rgb" in toks else 2
    rgb = np.clip(_floats(r, toks[k + 1 : k + 4], 3), 0.0, 1.0)
    return (float(rgb[0]), float(rgb[1]), float(rgb[2]))


def _skip_data(r: _Lines, n: int) -> None:
    """A ``data N`` block: N characters follow, over as many lines as they take."""
    got = -1 if n else n
    while got < n:
        got += len(r.lines[r.i]) + 1 if r.i < len(r.lines) else n + 1
        r.i += 1


def _vertices(r: _Lines, n: int) -> np.ndarray:
    rows = [_floats(r, r.next().split(), 3) for _ in range(n)]
    return np.array(rows).reshape(n, 3)


def _surface(r: _Lines, obj: _Obj, flags: int) -> None:
    """One SURF block: its mat and refs lines; polygons are fan-triangulated, lines dropped."""
    mat = 0
    while True:
        toks = r.next().split()
        if toks[0] == "mat" and len(toks) > 1:
            mat = _int(r, toks[1])
        elif toks[0] == "refs" and len(toks) > 1:
            break
        else:
            raise r.fail(f"expected mat or refs in SURF, got {toks[0]!r}")
    refs = [_floats(r, r.next().split(), 3) for _ in range(_int(r, toks[1]))]
    if flags & 0xF or len(refs) < 3:  # closed (1) or open (2) line, or no area
        return
    idx = [int(x[0]) for x in refs]
    if max(idx) >= len(obj.vertices) or min(idx) < 0:
        bad = max(idx) if max(idx) >= len(obj.vertices) else min(idx)
        raise r.fail(f"vertex index {bad} out of range ({len(obj.vertices)} vertices)")
    uv = [(float(x[1]), float(x[2])) for x in refs]
    for k in range(1, len(refs) - 1):
        obj.corners.append((idx[0], idx[k], idx[k + 1]))
        obj.uv.append((uv[0], uv[k], uv[k + 1]))
        obj.mats.append(mat)


def _surfaces(r: _Lines, obj: _Obj, n: int) -> None:
    for _ in range(n):
        toks = r.next().split()
        if toks[0] != "SURF" or len(toks) < 2:
            raise r.fail(f"expected SURF, got {toks[0]!r}")
        _surface(r, obj, _int(r, toks[1]))


def _field(r: _Lines, obj: _Obj, line: str) -> None:
    """One line of an OBJECT block other than ``kids``."""
    toks = line.split()
    key, rest = toks[0], toks[1:]
    if key == "texture":
        m = _QUOTED.search(line)
        obj.texture = obj.texture or (m.group(1) if m else (rest[0] if rest else None))
    elif key == "loc":
        obj.loc = _floats(r, rest, 3)
    elif key == "rot":
        obj.rot = _floats(r, rest, 9).reshape(3, 3)
    elif key == "texrep":
        obj.texrep = _floats(r, rest, 2)
    elif key == "texoff":
        obj.texoff = _floats(r, rest, 2)
    elif key == "numvert":
        obj.vertices = _vertices(r, _int(r, rest[0] if rest else "x"))
    elif key == "numsurf":
        _surfaces(r, obj, _int(r, rest[0] if rest else "x"))
    elif key == "data":
        _skip_data(r, _int(r, rest[0] if rest else "x"))
    elif key not in _SKIPPED:
        raise r.fail(f"unknown OBJECT field {key!r}")


def _object(r: _Lines, rot: np.ndarray, loc: np.ndarray, model: Ac3dModel, depth: int) -> None:
    """An OBJECT block (its header already read) and, recursively, its kids."""
    if depth > 64:
        raise r.fail("OBJECT tree deeper than 64")
    obj = _Obj()
    line = r.next()
    while not line.startswith("kids"):
        _field(r, obj, line)
        line = r.next()
    toks = line.split()
    n_kids = _int(r, toks[1] if len(toks) > 1 else "x")
    world_rot, world_loc = rot @ obj.rot, rot @ obj.loc + loc
    if obj.corners:
        c = np.array(obj.corners, np.int64)
        v = obj.vertices @ world_rot.T + world_loc
        uv = np.array(obj.uv, np.float64) * obj.texrep + obj.texoff
        model.polys.append(_Poly(v, c, uv, np.array(obj.mats, np.int64), obj.texture))
    for _ in range(n_kids):
        head = r.next().split()
        if head[0] != "OBJECT":
            raise r.fail(f"expected OBJECT, got {head[0]!r}")
        _object(r, world_rot, world_loc, model, depth + 1)


def parse_ac(text: str) -> Ac3dModel:
    """Parse the text of an .ac file (raises ``Ac3dError`` on anything malformed)."""
    r = _Lines(text)
    if not r.next().startswith("AC3D"):
        raise Ac3dError("not an AC3D file (no AC3D header)")
    model = Ac3dModel([])
    line = r.next()
    while line.startswith("MATERIAL"):
        model.materials.append(_material(r, line))
        line = r.next()
    if not line.startswith("OBJECT"):
        raise r.fail(f"expected OBJECT, got {line.split()[0]!r}")
    _object(r, np.eye(3), np.zeros(3), model, 0)
    return model


def load_texture(path: Path) -> np.ndarray | None:
    """An RGB uint8 texture capped at MAX_TEXTURE px, or None when missing or unreadable."""
    try:
        with Image.open(path) as im:
            return capped_texture(im)
    except (OSError, ValueError):
        return None


def _nearest_texel_uv(tex: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """UVs of the texel centres of ``tex`` closest in colour to each of ``colours`` (0..1)."""
    h, w = tex.shape[:2]
    step = max(1, max(h, w) // 64)  # a 64 px grid of candidates is plenty
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    pal = tex[ys, xs, :3].reshape(-1, 3).astype(np.float64) / 255
    uniq, inv = np.unique(colours, axis=0, return_inverse=True)
    best = np.argmin(((uniq[:, None, :] - pal[None]) ** 2).sum(-1), axis=1)[inv.reshape(-1)]
    x, y = xs.reshape(-1)[best], ys.reshape(-1)[best]
    return np.stack([(x + 0.5) / w, -(y + 0.5) / h], axis=1)


def to_mesh(model: Ac3dModel, texture: Callable[[str], np.ndarray | None]) -> ShapeMesh:
    """One ShapeMesh from a parsed model; ``texture(name)`` loads a texture the file names."""
    if not model.polys:
        raise Ac3dError("no polygons")
    offsets = np.cumsum([0] + [len(p.vertices) for p in model.polys])
    verts = np.concatenate([p.vertices for p in model.polys])
    corners = np.concatenate([p.corners + o for p, o in zip(model.polys, offsets, strict=False)])
    uv = np.concatenate([p.uv for p in model.polys])
    mats = np.concatenate([p.mats for p in model.polys])
    names = sorted({p.texture for p in model.polys if p.texture})
    images = {n: texture(n) for n in names}
    tex_of = np.concatenate(
        [np.full(len(p.corners), names.index(p.texture) if p.texture else -1) for p in model.polys]
    )
    colours = _face_colours(model, mats, tex_of, [images[n] for n in names])
    dominant = _dominant(verts[corners], tex_of, [images[n] is not None for n in names])
    mesh_tex = images[names[dominant]] if dominant >= 0 else None
    if mesh_tex is not None:
        other = tex_of != dominant
        uv[other] = _nearest_texel_uv(mesh_tex, colours[other])[:, None, :]
    return _split_vertices(verts, corners, uv if mesh_tex is not None else None, colours, mesh_tex)


def _face_colours(
    model: Ac3dModel, mats: np.ndarray, tex_of: np.ndarray, images: list[np.ndarray | None]
) -> np.ndarray:
    """Per-face sRGB colour: the material's, times the mean colour of the face's texture."""
    table = np.array(model.materials or [(0.8, 0.8, 0.8)], np.float64)
    colours = table[np.clip(mats, 0, len(table) - 1)]
    for k, img in enumerate(images):
        if img is not None:
            colours[tex_of == k] *= img.reshape(-1, 3).mean(0) / 255
    return colours


def _dominant(tris: np.ndarray, tex_of: np.ndarray, loaded: list[bool]) -> int:
    """Index of the loaded texture covering the largest area, or -1."""
    area = 0.5 * np.linalg.norm(np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]), axis=1)
    best, best_area = -1, 0.0
    for k, ok in enumerate(loaded):
        a = float(area[tex_of == k].sum())
        if ok and a > best_area:
            best, best_area = k, a
    return best


def _split_vertices(
    verts: np.ndarray,
    corners: np.ndarray,
    uv: np.ndarray | None,
    colours: np.ndarray,
    texture: np.ndarray | None,
) -> ShapeMesh:
    """Per-vertex attributes from per-corner ones: one vertex per distinct (vertex, uv, colour)."""
    n = corners.size
    uvc = uv.reshape(n, 2) if uv is not None else np.zeros((n, 2))
    col = np.repeat(colours, 3, axis=0)
    key = np.concatenate([corners.reshape(n, 1).astype(np.float64), uvc, col], axis=1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    mesh = ShapeMesh(verts[uniq[:, 0].astype(np.int64)], inv.reshape(-1, 3))
    mesh.vertex_colors = uniq[:, 3:6].astype(np.float32)
    if texture is not None:
        mesh.uv, mesh.texture = uniq[:, 1:3].astype(np.float32), texture
    return mesh


def read_ac(path: Path) -> ShapeMesh:
    """Read an .ac file and its textures (looked up beside the file, then by base name)."""
    text = Path(path).read_text(encoding="latin-1")
    model = parse_ac(text)
    folder = Path(path).parent

    def texture(name: str) -> np.ndarray | None:
        for cand in (folder / name, folder / Path(name.replace("\\", "/")).name):
            if cand.is_file():
                return load_texture(cand)
        return None

    return to_mesh(model, texture)
