"""Carving by outlines (backend/multiview/carving.py): a shape guessed too deep is cut back to
what a side photo's outline allows, and nothing inside the outline moves."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.geometry import MODEL_INPUT_SIZE, pixel_rays
from backend.multiview.carving import carved_sdf, outline_distance
from backend.multiview.poses import view_transform

SIZE = MODEL_INPUT_SIZE
RADIUS = 0.2


def sphere_mask(radius: float = RADIUS) -> np.ndarray:
    """The silhouette of a sphere at the view frame's origin, through the contract's camera."""
    rays = pixel_rays(SIZE)
    direction = rays / np.linalg.norm(rays, axis=-1, keepdims=True)
    origin = np.array([0.0, 0.0, 1.2])
    # distance from the sphere's centre to each ray
    along = -(direction @ origin)
    closest = origin + along[..., None] * direction
    return (np.linalg.norm(closest, axis=-1) < radius).astype(np.float32)


def too_deep(points: torch.Tensor) -> torch.Tensor:
    """An ellipsoid twice as deep (z) as the sphere: the guess a single front photo gives."""
    scaled = points / torch.tensor([RADIUS, RADIUS, 2 * RADIUS])
    return (scaled.norm(dim=-1) - 1.0) * RADIUS


def test_outline_distance_is_signed_in_pixels():
    mask = np.zeros((9, 9), np.float32)
    mask[3:6, 3:6] = 1
    d = outline_distance(mask)
    assert d[4, 4] < 0 < d[0, 4]
    assert d[4, 8] == pytest.approx(2.5)  # three pixels right of the mask's last column
    with pytest.raises(ValueError, match="empty"):
        outline_distance(np.zeros((4, 4)))


def test_a_side_outline_cuts_the_depth_back():
    side = view_transform(90.0, 0.0, 0.0)
    sdf = carved_sdf(too_deep, [sphere_mask()], [side], margin=0.0, device=torch.device("cpu"))
    deep = torch.tensor([[0.0, 0.0, 0.3], [0.0, 0.0, -0.3]])
    assert (too_deep(deep) < 0).all()
    assert (sdf(deep) > 0.05).all()  # outside the side photo's outline by about 0.1
    # an intersection: inside both it stays inside, and it only ever raises the SDF
    inner = torch.tensor([[0.0, 0.0, 0.0], [0.1, 0.05, 0.1]])
    assert (sdf(inner) < 0).all() and (sdf(inner) >= too_deep(inner)).all()
    # where the outline is far, the guess's own distance is kept
    wide = carved_sdf(too_deep, [sphere_mask(0.45)], [side], 0.0, torch.device("cpu"))
    torch.testing.assert_close(wide(inner), too_deep(inner))
    # the carved surface along z sits at the sphere's radius, within a pixel's width
    z = torch.linspace(0.0, 0.4, 401)
    line = torch.stack([torch.zeros_like(z), torch.zeros_like(z), z], dim=-1)
    surface = float(z[(sdf(line) > 0).nonzero()[0, 0]])
    assert surface == pytest.approx(RADIUS, abs=0.012)


def test_the_margin_keeps_what_lies_just_outside():
    side = view_transform(90.0, 0.0, 0.0)
    point = torch.tensor([[0.0, 0.0, RADIUS + 0.015]])
    tight = carved_sdf(too_deep, [sphere_mask()], [side], 0.0, torch.device("cpu"))
    loose = carved_sdf(too_deep, [sphere_mask()], [side], 0.03, torch.device("cpu"))
    assert tight(point).item() > 0 > loose(point).item()
