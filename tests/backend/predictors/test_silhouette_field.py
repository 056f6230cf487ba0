"""backend.predictors.silhouette_field: the mask's cone as a distance bound in the view frame."""

from __future__ import annotations

import numpy as np
import torch

from backend.geometry import CAMERA_DISTANCE, FOCAL_NDC
from backend.predictors.silhouette_field import signed_ndc_distance, silhouette_bound

CPU = torch.device("cpu")
PIXEL_NDC = 2.0 / 128


def square_image() -> np.ndarray:
    """A 128 px RGBA image whose mask spans NDC -0.5..0.5 in x and y."""
    im = np.ones((128, 128, 4), np.float32)
    im[..., 3] = 0.0
    im[32:96, 32:96, 3] = 1.0
    return im


def test_signed_distance_is_negative_inside_and_grows_outside():
    mask = square_image()[..., 3] > 0.5
    signed, inside = signed_ndc_distance(mask)
    assert (signed[mask] < 0).all() and (signed[~mask] > 0).all()
    assert np.isclose(signed[64, 100], (100 - 95 - 0.5) * PIXEL_NDC)  # 4.5 px right of the edge
    assert np.isclose(inside.max(), 32 * PIXEL_NDC)


def test_bound_is_the_outline_distance_scaled_to_the_point_depth():
    bound = silhouette_bound(square_image(), CPU)
    for z in (0.0, 0.3, -0.3):  # the same image offset means more world distance further away
        depth = CAMERA_DISTANCE - z
        x = 0.75 * depth / FOCAL_NDC  # projects to NDC u = 0.75, a quarter outside the edge
        got = bound(torch.tensor([[x, 0.0, z]]))[0].item()
        expected = 0.25 * depth / FOCAL_NDC
        assert abs(got - expected) < PIXEL_NDC * depth / FOCAL_NDC, (z, got, expected)
    centre = bound(torch.tensor([[0.0, 0.0, 0.0]]))[0].item()
    assert centre < -0.4 * CAMERA_DISTANCE / FOCAL_NDC  # deep inside: half the square's width
