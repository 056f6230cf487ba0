"""The plain parts of a batch run: which files go in, where each result bundle is kept.

An input is an image file, or an object folder: a folder holding `views.json`, which lists
several photos of one object (and, when known, their poses) for one reconstruction.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass

from .bundle_safety import copy_bundle
from .views import MAX_VIEWS, Poses, ViewsError, check_views

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".exr", ".tga")
VIEWS_FILE = "views.json"  # marks an object folder (docs/BATCH.md)


@dataclass
class BatchItem:
    """The outcome for one input image."""

    path: str
    ok: bool = False
    message: str = ""
    bundle: str = ""
    collection: str = ""


@dataclass(frozen=True)
class ObjectPhotos:
    """The photos of one object folder, main photo first, with their known poses."""

    folder: str
    paths: tuple[str, ...]
    poses: Poses


def is_object_folder(path: str) -> bool:
    return os.path.isfile(os.path.join(path, VIEWS_FILE))


def collect_inputs(items: Iterable[str]) -> list[str]:
    """Files as given; a folder that is an object folder as itself; from any other folder its
    image files and its object sub-folders (sorted); missing paths are kept."""
    out: list[str] = []
    for item in items:
        if os.path.isdir(item) and not is_object_folder(item):
            out += sorted(os.path.join(item, n) for n in os.listdir(item)
                          if n.lower().endswith(IMAGE_EXTENSIONS)
                          or is_object_folder(os.path.join(item, n)))
        else:
            out.append(item)
    return out


def read_object_folder(folder: str) -> ObjectPhotos:
    """Read an object folder's views.json, the rule of `python -m backend batch` (docs/BATCH.md):
    {"views": ["front.jpg", "side.jpg", ...], "azimuths": [0, 90, ...], "elevations": [20, ...]},
    every key optional ("views": the folder's images in name order; poses in degrees, one per
    photo), 2 to MAX_VIEWS photos. ViewsError says what is wrong with it in words."""
    try:
        with open(os.path.join(folder, VIEWS_FILE), encoding="utf-8") as fh:
            spec = json.load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise ViewsError(f"cannot read {VIEWS_FILE}: {reason}") from None
    except ValueError as exc:
        raise ViewsError(f"{VIEWS_FILE} is not valid JSON ({exc})") from None
    if not isinstance(spec, dict) or set(spec) - {"views", "azimuths", "elevations"}:
        raise ViewsError(f"{VIEWS_FILE} must be an object with the keys views, azimuths and "
                         "elevations (each optional)")
    names = spec.get("views")
    if names is None:
        names = sorted(n for n in os.listdir(folder) if not n.startswith(".")
                       and n.lower().endswith(IMAGE_EXTENSIONS)
                       and os.path.isfile(os.path.join(folder, n)))
    if not isinstance(names, list) or not all(
            isinstance(n, str) and n not in ("", ".", "..") and "/" not in n and "\\" not in n
            for n in names):
        raise ViewsError(f"{VIEWS_FILE}: views must list the photos' file names in this folder")
    if not 2 <= len(names) <= MAX_VIEWS:
        raise ViewsError(f"{VIEWS_FILE}: an object takes 2 to {MAX_VIEWS} photos "
                         f"(found {len(names)})")
    missing = [n for n in names if not os.path.isfile(os.path.join(folder, n))]
    if missing:
        raise ViewsError(f"{VIEWS_FILE} lists {missing[0]}, which is not in the folder")
    poses = Poses(_degrees(spec, "azimuths"), _degrees(spec, "elevations"))
    try:
        check_views(len(names), poses)
    except ViewsError as exc:
        raise ViewsError(f"{VIEWS_FILE}: {exc}") from None
    return ObjectPhotos(folder, tuple(os.path.join(folder, n) for n in names), poses)


def _degrees(spec: dict, key: str) -> tuple[float, ...] | None:
    values = spec.get(key)
    if values is None:
        return None
    if not isinstance(values, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in values):
        raise ViewsError(f"{VIEWS_FILE}: {key} must be a list of numbers (degrees)")
    return tuple(float(v) for v in values)


def bundle_dir_for(output: str, stem: str, taken: set[str]) -> str:
    """OUTDIR/<stem>/, or <stem>-2/ ... when two inputs of this batch share a stem. A bundle left
    by an earlier run is replaced, as `python -m backend reconstruct -o` does; nothing else is."""
    path, n = os.path.join(output, stem), 2
    while path in taken:
        path, n = os.path.join(output, f"{stem}-{n}"), n + 1
    taken.add(path)
    return path


def keep_bundle(bundle_dir: str, output: str, source: str, taken: set[str]) -> str:
    """Copy a downloaded bundle to its folder under `output` (named after `source`: an image's
    stem, an object folder's name); its path.

    A folder there that is not one of our bundles (no .slice3d-bundle marker) is never replaced:
    bundle_safety.NotOurFolder names it."""
    os.makedirs(output, exist_ok=True)
    stem = source_stem(source)
    if stem in ("", ".", ".."):
        raise ValueError(f"{stem!r} cannot name a bundle folder: rename the image")
    return copy_bundle(bundle_dir, bundle_dir_for(output, stem, taken))


def source_stem(source: str) -> str:
    """What names an input's bundle: the image's file name without its extension, or the
    object folder's whole name."""
    source = os.path.normpath(source)
    if os.path.isdir(source):
        return os.path.basename(source)
    return os.path.splitext(os.path.basename(source))[0]


def batch_summary(results: list[BatchItem], limit: int = 5) -> str:
    """One line for the UI: how many worked, and which files failed and why."""
    failed = [r for r in results if not r.ok]
    line = f"Batch: {len(results) - len(failed)} of {len(results)} images reconstructed"
    if failed:
        named = [f"{os.path.basename(r.path)} ({r.message})" for r in failed[:limit]]
        more = f" and {len(failed) - limit} more" if len(failed) > limit else ""
        line += "; failed: " + ", ".join(named) + more
    return line
