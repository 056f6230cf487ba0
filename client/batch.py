"""The plain parts of a batch run: which files go in, where each result bundle is kept."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from .bundle_safety import copy_bundle

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".exr", ".tga")


@dataclass
class BatchItem:
    """The outcome for one input image."""

    path: str
    ok: bool = False
    message: str = ""
    bundle: str = ""
    collection: str = ""


def collect_inputs(items: Iterable[str]) -> list[str]:
    """Files as given, and the image files of any folder (sorted); missing paths are kept."""
    out: list[str] = []
    for item in items:
        if os.path.isdir(item):
            out += sorted(os.path.join(item, n) for n in os.listdir(item)
                          if n.lower().endswith(IMAGE_EXTENSIONS))
        else:
            out.append(item)
    return out


def bundle_dir_for(output: str, stem: str, taken: set[str]) -> str:
    """OUTDIR/<stem>/, or <stem>-2/ ... when two inputs of this batch share a stem. A bundle left
    by an earlier run is replaced, as `python -m backend reconstruct -o` does; nothing else is."""
    path, n = os.path.join(output, stem), 2
    while path in taken:
        path, n = os.path.join(output, f"{stem}-{n}"), n + 1
    taken.add(path)
    return path


def keep_bundle(bundle_dir: str, output: str, source: str, taken: set[str]) -> str:
    """Copy a downloaded bundle to its folder under `output` (named after `source`); its path.

    A folder there that is not one of our bundles (no .slice3d-bundle marker) is never replaced:
    bundle_safety.NotOurFolder names it."""
    os.makedirs(output, exist_ok=True)
    stem = os.path.splitext(os.path.basename(source))[0]
    if stem in ("", ".", ".."):
        raise ValueError(f"{stem!r} cannot name a bundle folder: rename the image")
    return copy_bundle(bundle_dir, bundle_dir_for(output, stem, taken))


def batch_summary(results: list[BatchItem], limit: int = 5) -> str:
    """One line for the UI: how many worked, and which files failed and why."""
    failed = [r for r in results if not r.ok]
    line = f"Batch: {len(results) - len(failed)} of {len(results)} images reconstructed"
    if failed:
        named = [f"{os.path.basename(r.path)} ({r.message})" for r in failed[:limit]]
        more = f" and {len(failed) - limit} more" if len(failed) > limit else ""
        line += "; failed: " + ", ".join(named) + more
    return line
