"""The photo's light taken off the colours it gives the texture.

A photo shows albedo times light: the side turned from the light is darker, and a texture that
keeps that is lit twice in Blender, once in the photo and again by the scene. The mesh gives each
seen texel's normal, so a smooth light fitted to the photo's luminance over those texels (a
constant and a linear term in the normal, the first-order spherical harmonics, in linear light,
weighted least squares) says how much darker each texel is lit than the best-lit one. Dividing
that out leaves colours that differ by albedo and by what so smooth a light cannot explain (cast
shadows, highlights, errors of the mesh's normals).

The brightest fitted light over the seen texels is the reference: a texel turned to the light
keeps the photo's colour, one turned away is brought up to it. A texture is the albedo, what the
surface shows in full light, and that is what the best-lit side of a photo shows. Keeping the
object's mean brightness instead left the texture as dark as the photo's shaded half: against
it, this took 9-14% off the colour error of the hidden sides and 12% off the input view's on
held-out renders (docs/experiments/texture_colour.md, "The albedo's level"). Only a seen texel
counts: the fit's brightest direction may be one the photo does not show, and extrapolating to
it brightens further on the strength of nothing seen.
"""

from __future__ import annotations

import numpy as np

from ..srgb import linear_to_srgb, srgb_to_linear

MIN_TEXELS = 64  # fewer seen texels than this: too few to fit a light, colours left as they are
# Each texel's shading relative to the brightest is clipped to this range: grazing and badly
# placed normals make the fit extrapolate, and dividing by a near-zero shading would blow a
# texel up (relative to the brightest it is at most 1, so only the floor acts).
SHADING_RANGE = (0.25, 4.0)
LUMA = np.array([0.2126, 0.7152, 0.0722])  # Rec. 709 luminance of linear RGB


def relative_shading(normals: np.ndarray, luminance: np.ndarray,
                     weights: np.ndarray) -> np.ndarray:
    """Each texel's fitted light over the brightest fitted light of a texel with weight ([N],
    clipped to ``SHADING_RANGE``); all ones where there is nothing to fit."""
    n = len(luminance)
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if n < MIN_TEXELS or w.sum() <= 0:
        return np.ones(n)
    basis = np.concatenate([np.ones((n, 1)), np.asarray(normals, dtype=np.float64)], axis=1)
    root = np.sqrt(w)[:, None]
    coeffs, *_ = np.linalg.lstsq(basis * root, luminance * root[:, 0], rcond=None)
    light = basis @ coeffs
    brightest = float(light[w > 0].max())  # the best-lit texel the photo shows
    if not np.isfinite(brightest) or brightest <= 1e-6:
        return np.ones(n)
    return np.clip(light / brightest, *SHADING_RANGE)


def delit(rgb: np.ndarray, normals: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """sRGB colours [N, 3] in 0..1 of texels with unit ``normals`` [N, 3] (any frame fixed to
    the photo's camera), with the fitted light divided out; ``weights`` say how much each
    texel's colour is trusted in the fit."""
    linear = srgb_to_linear(np.asarray(rgb, dtype=np.float64))
    shading = relative_shading(normals, linear @ LUMA, weights)
    return linear_to_srgb(linear / shading[:, None])
