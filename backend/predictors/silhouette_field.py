"""The input mask as a 3D distance bound: how far a point lies outside the silhouette's cone.

Every point of the object projects inside the mask, so the signed distance from a point's
projection to the outline, scaled back to the point's depth, bounds the object's SDF from below
(outside the cone the object is at least that far; inside, no deeper than the outline is near).
The silhouette baseline builds its shape from it; the network can carve its SDF with it
(``max``), which restores the exact outline a 64 px decoder blurs.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..geometry import CAMERA_DISTANCE, FOCAL_NDC

ALPHA_INSIDE = 0.5


def signed_ndc_distance(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed distance to the outline in NDC per pixel (negative inside), and the inside distance.

    Pixel centres sit half a pixel from the outline, hence the half-pixel shift.
    """
    ndc_per_px = 2.0 / mask.shape[0]
    inside = ndimage.distance_transform_edt(mask) * ndc_per_px
    outside = ndimage.distance_transform_edt(~mask) * ndc_per_px
    signed = np.where(mask, 0.5 * ndc_per_px - inside, outside - 0.5 * ndc_per_px)
    return signed, inside


def sample_at_projection(fields: torch.Tensor, points: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Bilinear values of fields [1,C,H,W] where view-frame points [N,3] project: ([C,N], depth)."""
    depth = CAMERA_DISTANCE - points[:, 2]
    grid = torch.stack(
        [FOCAL_NDC * points[:, 0] / depth, -FOCAL_NDC * points[:, 1] / depth], dim=-1
    )
    sampled = F.grid_sample(
        fields, grid[None, None], mode="bilinear", padding_mode="border", align_corners=False,
    )[0, :, 0]
    return sampled, depth


def silhouette_bound(image: np.ndarray, device: torch.device):
    """Closure: view-frame points [N,3] -> distance outside the mask's cone (negative inside)."""
    signed, _ = signed_ndc_distance(image[..., 3] > ALPHA_INSIDE)
    field = torch.from_numpy(signed.astype(np.float32))[None, None].to(device)

    def bound(points: torch.Tensor) -> torch.Tensor:
        pts = points.to(device, torch.float32)
        sampled, depth = sample_at_projection(field, pts)
        return sampled[0] * depth / FOCAL_NDC

    return bound
