"""FlightGear's scenery and AI models from Debian's flightgear-data-models: AC3D (.ac) buildings,
vehicles, ships, aircraft and props with their png/SGI textures, read by ``training/data/ac3d.py``.

The .ac files are stored in AC3D's own frame, Y up (FlightGear turns them Z-up when it loads
them), which is the data engine's frame already: they are used as stored.

Dropped from the listing, because they are no object one could photograph:
- whole folders: Weather (cloud and rain sheets), Astro (earth and sky spheres), Autopush (UI
  cursors), Effects (light halos, wakes, particles, birds), Volcanoes (a terrain piece);
- by name: lights, lamps, strobes, flashes and beacon halos, landing aids (flols, datum,
  glide-path, wave-off, cut), wakes and contrails, tracers, flares, puffs, craters, flags
  (ensign, golf, foxtrot), deck-lighting and deck-clutter layers of the carriers, piers and
  ground tiles (flat pieces of terrain), tow ropes, and the empty or primitive placeholders
  (null, square, platform, load, thermalcap);
- duplicates: a model whose name, without colour words and punctuation, was already listed
  (the same barn in Agriculture/ and Buildings/, a buoy in red and in green, CG-57 in two
  levels of detail), and two sister carriers of the Nimitz (vinson, truman), so that one shape
  cannot sit in two splits.

Listed but dropped on load as ``impostor``: the carrier deck tractors (``mule-*``: textured
boxes) and a jetway's glass shell, whose shapes are not what their pictures show.
"""

from __future__ import annotations

import fnmatch
import re
from functools import cached_property
from pathlib import Path

import numpy as np

from training.data.ac3d import Ac3dError, read_ac
from training.data.sources.base import Dropped, Shape, interleave_families
from training.data.sources.install import require_deb
from training.data.sources.real import finish_shape

PACKAGE = "flightgear-data-models"
DROP_FOLDERS = {"Weather", "Astro", "Autopush", "Effects", "Volcanoes"}
_DROP_NAME = re.compile(
    r"light|lamp|strobe|flash|^beacon$|flols|datum|glide-path|wave-off|^cut$|sillage|wake|"
    r"contrail|tracer|flare|puff|crater|ensign|^golf$|^foxtrot$|rembrandt|parks-and-objects|"
    r"pier|groundtile|towrope|^null$|^square$|^platform$|^load$|thermalcap",
    re.I,
)
_COLOURS = re.compile(r"red|grey|gray|green|white|yellow|blue|black|[^a-z0-9]")
NEAR_DUPLICATES = {"vinson", "truman"}
# listed, but dropped on load: a box with a vehicle's picture on it (the Nimitz deck tractors,
# "mule"), and a jetway's glass shell; the shape would not match what the input shows
_IMPOSTOR = re.compile(r"^mule-|^glass$")
FAMILY_BY_FOLDER = (
    ("Airport/Jetway", "building"),
    ("Airport/ils", "prop"),
    ("Airport", "vehicle"),
    ("Agriculture", "building"),
    ("Buildings", "building"),
    ("Commercial", "building"),
    ("Industrial", "building"),
    ("Residential", "building"),
    ("Power", "building"),
    ("Aircraft", "aircraft"),
    ("Military", "vehicle"),
    ("Transport", "vehicle"),
    ("Maritime/Misc", "prop"),
    ("Maritime/Ice", "prop"),
    ("Maritime", "ship"),
)
# Geometry/ mixes everything: sorted by name keywords (first match wins), else prop
GEOMETRY_FAMILIES = (
    ("mule|tracteur", "vehicle"),
    ("a4-f|ka6-d|kc-130|kc135|tuxcopter|glider", "aircraft"),
    ("nimitz|clemenceau|sanantonio|ferry|saratoga|sailboat|container_carrier", "ship"),
)
LICENCE = "GPL-2+"
AUTHOR = "FlightGear contributors"


def family_of(rel: str) -> str:
    """The family of a model from its path under Models/ (e.g. 'Transport/110Bus.ac')."""
    if rel.startswith("Geometry/"):
        low = rel.lower()
        for pattern, fam in GEOMETRY_FAMILIES:
            if re.search(pattern, low):
                return fam
        return "prop"
    for prefix, fam in FAMILY_BY_FOLDER:
        if rel.startswith(prefix):
            return fam
    return "prop"


def is_useful(rel: str) -> bool:
    """Whether a model is an object worth a shape (see the module docstring for what is not)."""
    parts = rel.split("/")
    if parts[0] in DROP_FOLDERS or len(parts) < 2:
        return False
    return not any(_DROP_NAME.search(p) for p in [Path(parts[-1]).stem, *parts[1:-1]])


def dedupe_key(rel: str) -> str:
    """The name that marks duplicates: lower case, no colour words, no punctuation."""
    return _COLOURS.sub("", Path(rel).stem.lower())


def shape_id(rel: str) -> str:
    """A file-system safe id: 'fg-' + the path under Models/ without '.ac', '/' as '__'."""
    stem = rel[: -len(".ac")] if rel.endswith(".ac") else rel
    return "fg-" + re.sub(r"[^A-Za-z0-9_.-]", "_", stem.replace("/", "__"))


def read_copyright(text: str) -> list[tuple[list[str], str, str]]:
    """The stanzas of a Debian copyright file: (Files patterns, first Copyright line, License)."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        fields = dict(re.findall(r"^([A-Za-z-]+):[ \t]*(.*)$", block, re.M))
        if "Files" in fields:
            pats = re.search(r"^Files:(.*?)(?=^\S)", block + "\nX", re.M | re.S)
            patterns = pats.group(1).split() if pats else fields["Files"].split()
            out.append((patterns, fields.get("Copyright", "").strip(), fields.get("License", "")))
    return out


def credit(stanzas: list[tuple[list[str], str, str]], rel: str) -> tuple[str, str]:
    """(author, licence) of Models/<rel>: a stanza whose Files name the model's folder gives
    its holder (years dropped); otherwise the package's licence and 'FlightGear contributors'."""
    path = "Models/" + rel
    licence = next((lic for pats, _, lic in stanzas if "*" in pats and lic), LICENCE)
    for pats, holder, lic in stanzas:
        named = [p for p in pats if p.startswith("Models/")]
        if any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("*")) for p in named):
            return re.sub(r"^[\d\s,-]+", "", holder) or AUTHOR, lic or licence
    return AUTHOR, licence


class FlightGearSource:
    """Shapes from the .ac files under a FlightGear Models/ folder (the Debian package's, or
    ``root`` when given: tests pass a small tree)."""

    name = "flightgear"

    def __init__(self, root: Path | None = None) -> None:
        self._root = root

    @cached_property
    def root(self) -> Path:
        return self._root if self._root is not None else require_deb(PACKAGE)

    @cached_property
    def index(self) -> dict[str, tuple[str, str]]:
        """shape id -> (path under Models/, family), useful models only, first of duplicates."""
        seen: set[str] = set()
        out = {}
        for path in sorted(self.root.rglob("*.ac")):
            rel = path.relative_to(self.root).as_posix()
            key = dedupe_key(rel)
            if not is_useful(rel) or key in seen or key in NEAR_DUPLICATES:
                continue
            seen.add(key)
            out[shape_id(rel)] = (rel, family_of(rel))
        return out

    @cached_property
    def stanzas(self) -> list[tuple[list[str], str, str]]:
        doc = self.root.parents[2] / "doc" / PACKAGE / "copyright"  # usr/share/doc/<package>
        return read_copyright(doc.read_text()) if doc.is_file() else []

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        pairs = [(sid, fam) for sid, (_, fam) in self.index.items()]
        return interleave_families(pairs, limit)

    def load(self, shape_id: str, rng: np.random.Generator) -> Shape | Dropped:
        rel, family = self.index[shape_id]
        if _IMPOSTOR.search(Path(rel).stem):
            return Dropped(shape_id, "impostor")
        try:
            mesh = read_ac(self.root / rel)
        except (Ac3dError, OSError):
            return Dropped(shape_id, "unreadable")
        author, licence = credit(self.stanzas, rel)
        mesh.meta.update(licence=licence, author=author, title=Path(rel).stem)
        return finish_shape(shape_id, self.name, family, mesh, rng)
