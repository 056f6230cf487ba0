"""Real textures for surfaces that have none: tileable 0 A.D. terrain textures (stone, dirt,
grass, paving, cliffs) and prop/building skins, mapped triplanar in object coordinates, so that
procedural and untextured shapes also show real material detail. Optional: without the 0ad-data
package the bank is empty and looks fall back to flat colours and patterns."""

from __future__ import annotations

import io
from functools import lru_cache

import numpy as np
from PIL import Image

TEXTURE_SIZE = 256
SKIP = ("_norm", "_spec", "/ao/", "null_", "_mask", "_lightmap")


@lru_cache(maxsize=1)
def texture_names() -> tuple[str, ...]:
    """Candidate texture files inside public.zip (empty when 0ad-data is absent)."""
    try:
        from training.data.sources.zeroad import _zip

        names = _zip().namelist()
    except Exception:  # noqa: BLE001 - any missing/broken source means "no bank"
        return ()
    out = []
    for n in names:
        if not n.endswith(".dds") or any(s in n for s in SKIP):
            continue
        if n.startswith("art/textures/terrain/types/") or n.startswith(
            ("art/textures/skins/props/", "art/textures/skins/structural/")
        ):
            out.append(n)
    return tuple(sorted(out))


@lru_cache(maxsize=64)
def _load(name: str) -> np.ndarray | None:
    from training.data.sources.zeroad import _zip

    try:
        im = Image.open(io.BytesIO(_zip().read(name))).convert("RGB")
    except (OSError, KeyError, ValueError):
        return None
    im.thumbnail((TEXTURE_SIZE, TEXTURE_SIZE))
    return np.asarray(im)


def random_texture(rng: np.random.Generator) -> np.ndarray | None:
    """A random real texture (terrain types twice as likely as skins), or None."""
    names = texture_names()
    if not names:
        return None
    terrain = [n for n in names if "/terrain/" in n]
    pool = terrain if (terrain and rng.random() < 0.65) else names
    return _load(pool[int(rng.integers(0, len(pool)))])


def sample_bilinear(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Wrapped bilinear lookup, u right and v up in texture repeats; returns RGB in 0..1."""
    h, w = tex.shape[:2]
    x = np.mod(u, 1.0) * w - 0.5
    y = np.mod(-v, 1.0) * h - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    x0, y0 = x0 % w, y0 % h
    x1, y1 = (x0 + 1) % w, (y0 + 1) % h
    t = tex[..., :3].astype(np.float64) / 255
    return (
        t[y0, x0] * (1 - fx) * (1 - fy)
        + t[y0, x1] * fx * (1 - fy)
        + t[y1, x0] * (1 - fx) * fy
        + t[y1, x1] * fx * fy
    )


def triplanar(tex: np.ndarray, p: np.ndarray, n: np.ndarray, repeats: float) -> np.ndarray:
    """Blend of three axis projections weighted by the normal (no UVs needed)."""
    w = np.abs(n) ** 4
    w = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
    q = p * repeats
    return (
        w[:, 0:1] * sample_bilinear(tex, q[:, 2], q[:, 1])
        + w[:, 1:2] * sample_bilinear(tex, q[:, 0], q[:, 2])
        + w[:, 2:3] * sample_bilinear(tex, q[:, 0], q[:, 1])
    )
