"""The silhouette baseline: the mask back-projected at the object's depth and inflated.

Not a learned model. It gives the pipeline, the server and the Blender side a real predictor to
run end to end, and it is the trivial baseline every evaluation reports beside the network.
Half-thickness at a pixel at distance d inside the outline is sqrt(d (2R - d)), R the largest such
distance: a disc inflates to a sphere, round objects come out round and thin parts stay thin.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from ..geometry import CAMERA_DISTANCE, FOCAL_NDC, project, slabs_for_bounds
from .base import Prediction, Predictor

LIGHT_DIR = np.array([0.4, 0.5, 0.77])  # fixed key light in the view frame, shared by all slices


class SilhouettePredictor(Predictor):
    name = "silhouette-inflation"
    is_baseline = True

    def predict(self, image: np.ndarray, flip_average: bool | None = None) -> Prediction:
        size = image.shape[0]
        mask = image[..., 3] > 0.5
        ndc_per_px = 2.0 / size
        world_per_ndc = CAMERA_DISTANCE / FOCAL_NDC  # at the object's depth
        inside = ndimage.distance_transform_edt(mask) * ndc_per_px
        outside = ndimage.distance_transform_edt(~mask) * ndc_per_px
        signed_ndc = np.where(mask, 0.5 * ndc_per_px - inside, outside - 0.5 * ndc_per_px)
        radius = inside.max() * world_per_ndc
        depth_in = np.clip(ndimage.gaussian_filter(inside, 1.0) * world_per_ndc, 0, radius)
        half_thickness = np.sqrt(depth_in * (2 * radius - depth_in)) * mask

        bmin, bmax = _bounds(mask, radius, world_per_ndc)
        slabs = slabs_for_bounds(bmin, bmax)
        slices = _slice_images(mask, half_thickness, slabs, world_per_ndc)

        fields = torch.from_numpy(np.stack([signed_ndc, half_thickness]).astype(np.float32))
        fields = fields[None].to(self.device)

        def sdf(points: torch.Tensor) -> torch.Tensor:
            u, v, depth = project(points[:, 0], points[:, 1], points[:, 2])
            grid = torch.stack([u, v], dim=-1)
            sampled = F.grid_sample(
                fields, grid[None, None], mode="bilinear", padding_mode="border",
                align_corners=False,
            )[0, :, 0]
            lateral = sampled[0] * depth / FOCAL_NDC
            return torch.maximum(lateral, points[:, 2].abs() - sampled[1])

        return Prediction(slices=slices, slabs=slabs, sdf=sdf)


def _bounds(mask: np.ndarray, radius: float, world_per_ndc: float) -> tuple[np.ndarray, ...]:
    size = mask.shape[0]
    rows, cols = np.nonzero(mask)
    to_world = 2.0 / size * world_per_ndc
    x0, x1 = (cols.min() - size / 2) * to_world, (cols.max() + 1 - size / 2) * to_world
    y0, y1 = (size / 2 - rows.max() - 1) * to_world, (size / 2 - rows.min()) * to_world
    return np.array([x0, y0, -radius]), np.array([x1, y1, radius])


def _slice_images(
    mask: np.ndarray, half_thickness: np.ndarray, slabs, world_per_ndc: float
) -> np.ndarray:
    """Grey Lambertian renders of each slab of the inflated shape, seen from the input camera."""
    size = mask.shape[0]
    centres = ((np.arange(size) + 0.5) / size * 2.0 - 1.0) * world_per_ndc
    x = np.broadcast_to(centres[None, :], mask.shape)
    y = np.broadcast_to(-centres[:, None], mask.shape)
    gy, gx = np.gradient(half_thickness, 2.0 / size * world_per_ndc)
    normal = np.stack([-gx, gy, np.ones_like(gx)], axis=-1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    light = LIGHT_DIR / np.linalg.norm(LIGHT_DIR)
    shade = np.clip(0.25 + 0.75 * np.clip(normal @ light, 0, 1), 0, 1)
    out = np.zeros((len(slabs), size, size, 4), dtype=np.uint8)
    for i, slab in enumerate(slabs):
        if slab.axis == 0:
            inside = mask & (x >= slab.lo) & (x < slab.hi)
        elif slab.axis == 1:
            inside = mask & (y >= slab.lo) & (y < slab.hi)
        else:
            inside = mask & (half_thickness > slab.lo) & (-half_thickness < slab.hi)
        grey = (shade * 255).astype(np.uint8)
        out[i, ..., 0] = out[i, ..., 1] = out[i, ..., 2] = np.where(inside, grey, 0)
        out[i, ..., 3] = np.where(inside, 255, 0)
    return out
