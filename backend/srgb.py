"""sRGB and linear light: one definition for the backend and the data engine.

Light adds and scales in linear light; photos and textures hold sRGB. The backend's texture
bake (``texture.delight``) and the data engine's renders (``training.data.shading``,
``training.data.cycles``) convert with these same two functions.
"""

from __future__ import annotations

import numpy as np


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB values in 0..1 to linear light (the IEC 61966-2-1 curve)."""
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    """Linear light to sRGB, clipped to 0..1 first."""
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
