"""Carving by the extra photos' outlines: the SDF intersected with each placed photo's
silhouette cone (a visual hull), without reading the photo's features.

Why: a pose found from outlines is often one of several that show the same outline (a turned or
mirrored camera on a symmetric object). Features read at such a pose land on the wrong points
and pull the shape; the outline itself is right at every one of them, so cutting away what lies
outside it uses exactly what the search can vouch for.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import distance_transform_edt

from ..geometry import FOCAL_NDC, project
from ..predictors.base import SdfFunction, transform_scale


def outline_distance(alpha: np.ndarray) -> np.ndarray:
    """Signed distance to the mask's outline in pixels (float32 [S, S]): positive outside,
    negative inside, about zero on the boundary between a mask pixel and its neighbour."""
    inside = np.asarray(alpha) > 0.5
    if not inside.any():
        raise ValueError("the mask is empty")
    outside_d = distance_transform_edt(~inside)
    inside_d = distance_transform_edt(inside)
    return np.where(inside, 0.5 - inside_d, outside_d - 0.5).astype(np.float32)


def carved_sdf(sdf: SdfFunction, alphas: Sequence[np.ndarray], transforms: Sequence[np.ndarray],
               margin: float, device: torch.device) -> SdfFunction:
    """``sdf`` (reference view frame) intersected with every photo's silhouette cone.

    ``alphas[k]``: photo k's mask on the model's square input, framed as the network would read
    it; ``transforms[k]``: reference view frame -> photo k's view frame (scale included).
    ``margin`` (reference units) widens each cone, so a pose a few degrees off or a mask a pixel
    off cuts nothing that is there. The cone's distance is the outline's pixel distance at the
    point's depth: a lower bound of the true distance, which keeps the SDF's zero set right.
    """
    maps = [torch.from_numpy(outline_distance(a))[None, None].to(device) for a in alphas]
    mats = [np.asarray(t, np.float64) for t in transforms]
    rots = [torch.as_tensor(m[:3, :3], dtype=torch.float32, device=device) for m in mats]
    shifts = [torch.as_tensor(m[:3, 3], dtype=torch.float32, device=device) for m in mats]
    scales = [transform_scale(m) for m in mats]

    def carved(points: torch.Tensor) -> torch.Tensor:
        pts = points.to(device, torch.float32)
        out = sdf(pts).to(pts)
        for dist, rot, shift, scale in zip(maps, rots, shifts, scales, strict=True):
            q = pts @ rot.T + shift
            u, v, depth = project(q[:, 0], q[:, 1], q[:, 2])
            depth = depth.clamp_min(1e-3)
            grid = torch.stack([u, v], dim=-1)[None, None]
            px = F.grid_sample(dist, grid, mode="bilinear", padding_mode="border",
                               align_corners=False)[0, 0, 0]
            # a pixel is 2 / S of NDC, and NDC is FOCAL_NDC * x / depth
            units = px * (2.0 / dist.shape[-1]) * depth / FOCAL_NDC / scale
            out = torch.maximum(out, units - margin)
        return out

    return carved
