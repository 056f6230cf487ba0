"""Bicubic reading of the image maps at query points on a CPU, as one sparse product.

``F.grid_sample(mode="bicubic")`` gathers 16 taps per point and channel on a CPU; for the
merged 124-channel map it took a fifth of the point decoder's time. The same reading is a sparse
matrix (16 weights a point) times the map laid out one texel per row, a product MKL does
about 2.6x as fast (docs/BENCHMARKS.md). The taps and weights are PyTorch's own (cubic
convolution with A = -0.75, ``align_corners=False``, each tap clamped to the border), so the
values agree with ``grid_sample``'s to float rounding (about 1e-7 in the SDF).

The per-texel layout is made once per map and kept while the map lives (a job's features);
elsewhere than a CPU, or for bilinear reading, ``sample_maps`` runs as it is.
"""

from __future__ import annotations

import threading
import warnings
import weakref

import torch

from ..model.network import sample_maps

CUBIC_A = -0.75  # PyTorch's bicubic grid_sample (and upsampling) coefficient
TAP_OFFSETS = (-1, 0, 1, 2)

warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state",
                        category=UserWarning)


def cubic_weights(t: torch.Tensor) -> torch.Tensor:
    """The four taps' weights for a fraction ``t`` in [0, 1): [..., 4], as ATen computes them."""
    a = CUBIC_A
    x1, x2 = t, 1.0 - t

    def near(x: torch.Tensor) -> torch.Tensor:  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x: torch.Tensor) -> torch.Tensor:  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return torch.stack([far(x1 + 1.0), near(x1), near(x2), far(x2 + 1.0)], dim=-1)


def bicubic_matrix(ndc: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The sparse [B*N, B*H*W] matrix whose product with a map's texel rows is the bicubic
    reading at ``ndc`` [B,N,2] (grid_sample's normalised coordinates, border padding)."""
    b, n, _ = ndc.shape
    offsets = torch.tensor(TAP_OFFSETS, device=ndc.device)
    ix = ((ndc[..., 0] + 1) * width - 1) / 2
    iy = ((ndc[..., 1] + 1) * height - 1) / 2
    x0, y0 = ix.floor(), iy.floor()
    wx, wy = cubic_weights(ix - x0), cubic_weights(iy - y0)  # [B,N,4]
    xs = (x0.long()[..., None] + offsets).clamp(0, width - 1)
    ys = (y0.long()[..., None] + offsets).clamp(0, height - 1)
    first_row = (torch.arange(b, device=ndc.device) * (height * width))[:, None, None, None]
    columns = first_row + ys[..., :, None] * width + xs[..., None, :]  # [B,N,4,4]
    weights = wy[..., :, None] * wx[..., None, :]
    taps = len(TAP_OFFSETS) ** 2
    starts = torch.arange(0, b * n * taps + 1, taps, device=ndc.device)
    return torch.sparse_csr_tensor(starts, columns.reshape(-1), weights.reshape(-1),
                                   (b * n, b * height * width), check_invariants=False)


class MapSampler:
    """``sample_maps`` with bicubic reading done as a sparse product on the CPU.

    Holds each map's texel rows [B*H*W, C] for as long as the map itself lives; safe to call
    from the chunk threads at once."""

    def __init__(self) -> None:
        # id(map) -> (the map, weakly, its rows); an entry leaves when its map is freed. Not a
        # WeakKeyDictionary: that compares keys with ==, elementwise for tensors.
        self._rows: dict[int, tuple[weakref.ref[torch.Tensor], torch.Tensor]] = {}
        self._lock = threading.RLock()  # a freed map's callback may run inside

    def __call__(self, fmap: torch.Tensor, ndc: torch.Tensor,
                 mode: str = "bilinear") -> torch.Tensor:
        if mode != "bicubic" or fmap.device.type != "cpu" or torch.is_grad_enabled():
            return sample_maps(fmap, ndc, mode)
        b, c, h, w = fmap.shape
        rows = self._rows_of(fmap).to(ndc.dtype)
        return (bicubic_matrix(ndc, h, w) @ rows).view(b, ndc.shape[1], c)

    def _rows_of(self, fmap: torch.Tensor) -> torch.Tensor:
        key = id(fmap)
        with self._lock:
            held = self._rows.get(key)
            if held is not None and held[0]() is fmap:
                return held[1]
            b, c, h, w = fmap.shape
            rows = fmap.permute(0, 2, 3, 1).reshape(b * h * w, c).contiguous()
            self._rows[key] = (weakref.ref(fmap, self._forget), rows)
            return rows

    def _forget(self, dead: weakref.ref[torch.Tensor]) -> None:
        with self._lock:
            for key, (ref, _) in list(self._rows.items()):
                if ref is dead:
                    del self._rows[key]
