"""Everyday objects from Sweet Home 3D: Debian's sweethome3d-furniture (five ``.sh3f`` catalogs,
zips of OBJ+MTL+texture models, ``sh3d-furniture``) and the ~100 default models inside
sweethome3d.jar (``sh3d-jar``). Each catalog's ``*FurnitureCatalog.properties`` names every
model's file, category, creator, size and rotation; the licence follows from the catalog (the
package's copyright file), so every shape carries its licence, author and title in ``meta``."""

from __future__ import annotations

import os
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from training.data.mesh import ShapeMesh
from training.data.obj import ObjError, read_obj
from training.data.sources.base import Dropped, Shape, interleave_families
from training.data.sources.install import require_deb
from training.data.sources.real import finish_shape

# licence per catalog (debian/copyright of sweethome3d-furniture; the jar is GPL-2+)
CATALOG_LICENCES = {
    "BlendSwap-CC-0": "CC0-1.0",
    "BlendSwap-CC-BY": "CC-BY-3.0",
    "KatorLegaz": "CC-BY-3.0-US",
    "Reallusion": "CC-BY-3.0-US",
    "Scopia": "CC-BY-3.0",
    "jar": "GPL-2+",
}
JAR_CATALOG = "com/eteks/sweethome3d/io/DefaultFurnitureCatalog.properties"
JAR_OBJ_LOADER = "com/eteks/sweethome3d/j3d/OBJLoader.class"  # holds the built-in materials
PLUGIN_CATALOG = "PluginFurnitureCatalog.properties"
PIECE_KEYS = ("id", "name", "category", "creator", "modelRotation", "width", "height", "depth")
FAMILIES = {
    "Living room": "furniture",
    "Bedroom": "furniture",
    "Office": "furniture",
    "Kitchen": "kitchen",
    "Bathroom": "kitchen",
    "Lights": "lighting",
    "Vehicles": "vehicle",
    "Characters": "figure",
    "Doors and windows": "structure",
    "Staircases": "structure",
}
_PLANT = re.compile(
    r"\b(tree|plant|bush|hedge|palm|flower|pine|cactus|bonsai|ficus|bamboo|maple|cypress|beech"
    r"|shrub|fern|yucca|orchid|tulip|rose|blossom|ivy)",
    re.I,
)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class Entry:
    """One catalog piece: where its model is and what the catalog says about it."""

    archive: str  # path of the .sh3f or .jar
    model: str  # member name of the OBJ inside the archive
    family: str
    licence: str
    author: str
    title: str
    rotation: tuple[float, ...] | None  # row-major 3x3 (modelRotation#N)
    size: tuple[float, ...] | None  # width (x), height (y), depth (z) in cm


def parse_properties(text: str) -> dict[str, str]:
    """Java .properties: comments, ``key=value``/``key: value``, continuations, ``\\uXXXX``."""
    out: dict[str, str] = {}
    logical = ""
    for raw in text.splitlines():
        line = raw.lstrip() if not logical else raw.lstrip()
        if not logical and (not line or line[0] in "#!"):
            continue
        trailing = len(line) - len(line.rstrip("\\"))
        if trailing % 2:  # an odd number of backslashes continues the line
            logical += line[:-1]
            continue
        logical += line
        m = re.match(r"((?:\\.|[^=:\s\\])+)\s*[=:\s]\s*(.*)", logical)
        if m:
            out[_unescape(m.group(1))] = _unescape(m.group(2))
        logical = ""
    return out


def _unescape(s: str) -> str:
    s = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), s)
    return re.sub(r"\\(.)", lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m[1], m[1]), s)


def family_of(category: str, text: str) -> str:
    """A few families from the catalog's categories; plants are told by their title."""
    if _PLANT.search(text):
        return "plant"
    return FAMILIES.get(category, "misc")


def catalog_entries(archive: str, props: dict[str, str], stem: str, prefix: str) -> dict:
    """shape id -> Entry for every piece of one catalog (ids unique and file-system safe)."""
    out: dict[str, Entry] = {}
    for key in sorted(props, key=lambda k: int(k[6:]) if k[6:].isdigit() else -1):
        if not (key.startswith("model#") and key[6:].isdigit()):
            continue
        n = key[6:]
        p = {f: props.get(f"{f}#{n}", "") for f in PIECE_KEYS}
        local = p["id"].split("#")[-1] or n
        sid = prefix + (f"{stem}__" if stem != "jar" else "") + _UNSAFE.sub("_", local)
        if sid in out:
            sid += f"-{n}"
        out[sid] = Entry(
            archive=archive,
            model=props[key].lstrip("/"),
            family=family_of(p["category"], p["name"]),
            licence=CATALOG_LICENCES[stem],
            author=p["creator"] or ("eTeks" if stem == "jar" else stem),
            title=p["name"],
            rotation=_floats(p["modelRotation"], 9),
            size=_floats(f"{p['width']} {p['height']} {p['depth']}", 3),
        )
    return out


def _floats(text: str, n: int) -> tuple[float, ...] | None:
    try:
        vals = tuple(float(x) for x in text.split())
    except ValueError:
        return None
    return vals if len(vals) == n else None


_opened: dict[str, tuple[int, zipfile.ZipFile]] = {}


def _zip(path: str) -> zipfile.ZipFile:
    """Each archive opened once per process (forked workers must not share file offsets)."""
    got = _opened.get(path)
    if got is None or got[0] != os.getpid():
        got = _opened[path] = (os.getpid(), zipfile.ZipFile(path))
    return got[1]


@lru_cache(maxsize=2)
def index(name: str) -> dict[str, Entry]:
    """Every piece of the source ``name``'s catalogs (reading the properties files is quick)."""
    if name == "sh3d-jar":
        jar = str(require_deb("sweethome3d"))
        text = _zip(jar).read(JAR_CATALOG).decode("latin-1")
        return catalog_entries(jar, parse_properties(text), "jar", "sh3dj-")
    folder = require_deb("sweethome3d-furniture")
    out: dict[str, Entry] = {}
    for path in sorted(folder.glob("*.sh3f")):
        if path.stem not in CATALOG_LICENCES:  # a catalog of unknown licence stays out
            continue
        text = _zip(str(path)).read(PLUGIN_CATALOG).decode("latin-1")
        out.update(catalog_entries(str(path), parse_properties(text), path.stem, "sh3d-"))
    return out


@lru_cache(maxsize=1)
def jar_materials() -> bytes | None:
    """Sweet Home 3D's built-in OBJ materials (the MTL text its OBJLoader carries as a string
    constant), which the jar's own models name without a ``mtllib``."""
    try:
        data = _zip(str(require_deb("sweethome3d"))).read(JAR_OBJ_LOADER)
    except KeyError:
        return None
    runs = re.findall(rb"newmtl [\t\n\r\x20-\x7e]*", data)
    return max(runs, key=len) if runs else None


def place(mesh: ShapeMesh, e: Entry) -> None:
    """Stand the model as the catalog means it: its rotation, then its width/height/depth."""
    if e.rotation is not None:
        mesh.vertices = mesh.vertices @ np.asarray(e.rotation).reshape(3, 3).T
    if e.size is not None:
        ext = mesh.vertices.max(0) - mesh.vertices.min(0)
        ok = (ext > 1e-9) & (np.asarray(e.size) > 0)
        k = np.where(ok, np.asarray(e.size) / np.where(ok, ext, 1.0), 1.0)
        mesh.vertices = mesh.vertices * (k / k[ok].max() if ok.any() else k)


class SweetHomeSource:
    """``sh3d-furniture`` or ``sh3d-jar``: list and load the catalogs' pieces."""

    def __init__(self, name: str) -> None:
        if name not in ("sh3d-furniture", "sh3d-jar"):
            raise ValueError(f"not a Sweet Home 3D source: {name!r}")
        self.name = name

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        pairs = [(sid, e.family) for sid, e in sorted(index(self.name).items())]
        return interleave_families(pairs, limit)

    def load(self, shape_id: str, rng: np.random.Generator) -> Shape | Dropped:
        e = index(self.name)[shape_id]
        zf = _zip(e.archive)
        default = jar_materials() if self.name == "sh3d-jar" else None
        try:
            mesh = read_obj(e.model, zf.read, default_mtl=default)
        except (ObjError, KeyError, ValueError, IndexError):
            return Dropped(shape_id, "unreadable")
        place(mesh, e)
        mesh.meta.update(licence=e.licence, author=e.author, title=e.title)
        return finish_shape(shape_id, self.name, e.family, mesh, rng)
