"""The coarse shape seen from many candidate cameras at once: silhouettes, depth and boxes.

The pose search scores hundreds of candidate poses per photo, so this renders them together:
surface samples are rotated by every candidate, projected (``contract.project``) and splatted
onto a small image with a z-buffer, all as tensor operations. A 3x3 closing fills the gaps
between samples at SEARCH_SIZE pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..contract import project

SEARCH_SIZE = 64


@dataclass
class Rendered:
    """Candidates p = 0..P-1 seen through their cameras."""

    masks: torch.Tensor  # float [P, S, S], 1 inside the silhouette
    depth: torch.Tensor  # float [P, S*S], nearest surface depth per pixel (inf outside)
    boxes: torch.Tensor  # float [P, 4]: left, top, right, bottom in NDC (from the vertices)


def rotations(transforms: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """The 3x3 parts of 4x4 view transforms, float32 [P, 3, 3]."""
    return torch.as_tensor(np.asarray(transforms, np.float64)[:, :3, :3], dtype=torch.float32)


def to_ndc(points: torch.Tensor, rots: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference view-frame points [N, 3] through P cameras: NDC [P, N, 2] and depth [P, N]."""
    p = torch.einsum("pij,nj->pni", rots, points)
    u, v, depth = project(p[..., 0], p[..., 1], p[..., 2])
    return torch.stack([u, v], -1), depth


def render(points: torch.Tensor, vertices: torch.Tensor, rots: torch.Tensor,
           size: int = SEARCH_SIZE) -> Rendered:
    """Silhouettes, z-buffers and projected boxes of the shape under every rotation."""
    count = rots.shape[0]
    ndc, depth = to_ndc(points, rots)
    # each sample marks the pixel it falls in; samples off the image go to one spare slot past
    # the end, so no boolean indexing is needed
    col = torch.floor((ndc[..., 0] + 1) / 2 * size).long()
    row = torch.floor((ndc[..., 1] + 1) / 2 * size).long()
    ok = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    spare = count * size * size
    index = torch.where(ok, torch.arange(count).view(-1, 1) * size * size + row * size + col, spare)
    flat_depth = torch.full((spare + 1,), float("inf"))
    flat_depth.scatter_reduce_(0, index.view(-1), depth.reshape(-1), reduce="amin")
    flat_depth = flat_depth[:spare]
    hit = torch.isfinite(flat_depth).view(count, 1, size, size).float()
    closed = -F.max_pool2d(-F.max_pool2d(hit, 3, 1, 1), 3, 1, 1)
    vndc, _ = to_ndc(vertices, rots)
    boxes = torch.cat([vndc.amin(1), vndc.amax(1)], -1)
    return Rendered(closed[:, 0], flat_depth.view(count, -1), boxes)
