"""Artist-made meshes from Debian's 0ad-data (0 A.D. game art): props, buildings, plants and
characters as .pmd meshes inside public.zip, textured with the .dds skins their actor XML files
name as ``baseTex``. Most are not watertight; signs come from winding numbers (see mesh_sdf)."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from functools import lru_cache

import numpy as np
from PIL import Image

from training.data.mesh import ShapeMesh, capped_texture
from training.data.pmd import PmdError, read_pmd
from training.data.sources.base import Dropped, Shape, interleave_families
from training.data.sources.install import cache_dir, require_deb
from training.data.sources.real import finish_shape

MESH_DIR, MESH_EXT = "art/meshes/", ".dae.cached.pmd"
TEX_DIR, TEX_EXT = "art/textures/skins/", ".cached.dds"
FAMILIES = {"props": "prop", "structural": "structure", "gaia": "nature", "skeletal": "character"}
_MESH = re.compile(r"<mesh>\s*([^<]+?)\s*</mesh>")
_TEX = re.compile(
    r'<texture\s+[^>]*?file="([^"]+)"[^>]*?name="baseTex"|'
    r'<texture\s+[^>]*?name="baseTex"[^>]*?file="([^"]+)"'
)
_VARIANT = re.compile(r"<variant\b.*?</variant>", re.S)


_opened: tuple[int, zipfile.ZipFile] | None = None


def _zip() -> zipfile.ZipFile:
    """The package's zip, opened once per process: forked build workers must not share the
    parent's file offset, or their concurrent reads fail with BadZipFile."""
    global _opened
    if _opened is None or _opened[0] != os.getpid():
        _opened = (os.getpid(), zipfile.ZipFile(require_deb("0ad-data")))
    return _opened[1]


def build_index(zf: zipfile.ZipFile) -> dict[str, dict]:
    """shape id -> {mesh, texture, family}, from the mesh files and the actors that use them."""
    names = set(zf.namelist())
    textures: dict[str, str] = {}
    for n in sorted(names):
        if not (n.startswith("art/actors/") and n.endswith(".xml")):
            continue
        xml = zf.read(n).decode("utf-8", "replace")
        for var in _VARIANT.findall(xml) or [xml]:
            m, t = _MESH.search(var), _TEX.search(var)
            if m and t:
                tex = TEX_DIR + (t.group(1) or t.group(2)) + TEX_EXT
                if tex in names:
                    textures.setdefault(MESH_DIR + m.group(1) + ".cached.pmd", tex)
    index = {}
    for n in sorted(names):
        if not (n.startswith(MESH_DIR) and n.endswith(MESH_EXT)):
            continue
        rel = n[len(MESH_DIR) : -len(MESH_EXT)]
        fam = FAMILIES.get(rel.split("/")[0])
        if fam is None:  # temp/ and test/ art
            continue
        sid = "0ad-" + re.sub(r"[^A-Za-z0-9_.-]", "_", rel.replace("/", "__"))
        index[sid] = {"mesh": n, "texture": textures.get(n), "family": fam}
    return index


@lru_cache(maxsize=1)
def index() -> dict[str, dict]:
    """The index, cached as JSON next to the unpacked package (scanning actors takes a while)."""
    path = cache_dir() / "0ad-index.json"
    if path.exists():
        return json.loads(path.read_text())
    idx = build_index(_zip())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(idx))
    return idx


def load_texture(zf: zipfile.ZipFile, name: str) -> np.ndarray | None:
    try:
        return capped_texture(Image.open(io.BytesIO(zf.read(name))))
    except (OSError, KeyError, ValueError):
        return None


class ZeroAdSource:
    name = "0ad"

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        pairs = [(sid, e["family"]) for sid, e in index().items()]
        return interleave_families(pairs, limit)

    def load(self, shape_id: str, rng: np.random.Generator) -> Shape | Dropped:
        e = index()[shape_id]
        zf = _zip()
        try:
            pm = read_pmd(zf.read(e["mesh"]))
        except PmdError:
            return Dropped(shape_id, "unreadable")
        mesh = ShapeMesh(pm.positions, pm.faces, uv=pm.uv)
        if e["texture"]:
            mesh.texture = load_texture(zf, e["texture"])
        if mesh.texture is None:
            mesh.uv = None
        n = np.asarray(pm.normals, np.float64)
        mesh.meta["_vnormals"] = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        return finish_shape(shape_id, self.name, e["family"], mesh, rng)
