"""SDF to mesh: coarse-to-fine grid evaluation, then marching cubes at the zero level.

A dense 256^3 grid costs 17 million SDF evaluations, almost all far from the surface. We evaluate a
coarse grid densely, then at each finer level evaluate only the points of cells the surface passes
through (a sign change, traced outward until it closes; near the surface at the levels up to
``BAND_UP_TO``); the rest take trilinearly upsampled values, whose sign is that of the coarse
cell's corners.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from skimage import measure

from .errors import BackendError, Cancelled
from .geometry import SDF_BOUND, SDF_PAD
from .mesh_cleanup import smooth_surface
from .predictors.base import SdfFunction
from .silhouette_fill import SilhouetteFill, fill_missed_rays

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]
LevelFn = Callable[[int, int], None]  # (level, levels), 1-based, as each grid level starts
# Points per SDF call: sized as it goes so that one call takes about CHUNK_TARGET_S, between
# MIN_CHUNK and CHUNK, and cancellation is checked before each. A fixed 65,536 took up to 26 s
# on a busy machine. Sizes are multiples of MIN_CHUNK (the network's own query batch), so the
# network sees exactly the batches it saw before and the grid's values do not change.
CHUNK = 65536
MIN_CHUNK = 2048
CHUNK_TARGET_S = 0.25
# Refining from a level up to BAND_UP_TO, a cell is taken when a corner lies within one cell
# diagonal of the surface: for a true SDF (1-Lipschitz) no cell further away can hold surface.
# The dense grid starts at START (17^3 points) and the band serves the next two levels, so the
# 32^3 level is evaluated only where the 16^3 one says the surface may be near: every point the
# 32^3 band takes is then found as when that level was dense (proof: a point skipped lies in a
# 16^3 cell whose corners are all a 16^3 diagonal from the surface, so it is half that, a 32^3
# diagonal, away). The same meshes, bit for bit, on 17 images, with 13% fewer evaluations on the
# apple at 128^3 (docs/BENCHMARKS.md).
BAND_CELLS = 1.0
BAND_UP_TO = 32
START = 16
CLOSURE_ROUNDS = 16  # rounds of surface tracing per level; each reaches one fine cell further
# A search SDF (evaluate_coarse_to_fine) serves the levels up to this size; the first level above
# evaluates its coarse points again. Above 64 that repeat costs about what the search saves (the
# apple at 256^3: 71,844 points again for 149,504 searched, against 15,041 for 85,523 here).
SEARCH_UP_TO = 64


@dataclass
class SdfGrid:
    values: np.ndarray  # float32 [n+1, n+1, n+1], indexed [x, y, z] in the view frame
    lo: float
    hi: float
    evaluations: int

    @property
    def resolution(self) -> int:
        return self.values.shape[0] - 1


def grid_axis(n: int) -> np.ndarray:
    lo, hi = -SDF_BOUND - SDF_PAD, SDF_BOUND + SDF_PAD
    return np.linspace(lo, hi, n + 1, dtype=np.float32)


def evaluate_dense(
    sdf: SdfFunction, n: int, device: torch.device, progress: ProgressFn | None = None,
    cancel: CancelFn | None = None,
) -> SdfGrid:
    """Every point of an (n+1)^3 grid: the reference the coarse-to-fine path is measured against."""
    axis = torch.from_numpy(grid_axis(n)).to(device)
    pts = torch.stack(torch.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    values = _evaluate_points(sdf, pts, progress, cancel).reshape(n + 1, n + 1, n + 1)
    return SdfGrid(values.cpu().numpy(), float(axis[0]), float(axis[-1]), pts.shape[0])


def evaluate_coarse_to_fine(
    sdf: SdfFunction, n: int, device: torch.device, start: int = START,
    progress: ProgressFn | None = None, cancel: CancelFn | None = None,
    on_level: LevelFn | None = None, search: SdfFunction | None = None,
) -> SdfGrid:
    """An (n+1)^3 grid whose values are exact wherever the surface was found to pass.

    The refinements from levels up to ``BAND_UP_TO`` (the dense start grid's first) take every
    cell with a sign change or a corner within one cell diagonal of the surface, which for a true
    SDF is every cell that can hold surface. Finer levels take only the cells with a sign change:
    a learned SDF sits near zero over wide regions, so a magnitude band there would evaluate most
    of the grid. After each level the surface is traced outward: a fine cell with a sign change
    and a corner that was interpolated, not evaluated, gets that corner evaluated, until the
    surface closes (``CLOSURE_ROUNDS``).

    ``progress`` moves through every level (the dense start is level 1 of ``steps + 1``), each
    level weighted by about the share of the points it evaluates; ``on_level`` hears each start.

    ``search``: a cheaper SDF near ``sdf`` (the network without its flip average) that the levels
    up to ``SEARCH_UP_TO`` (and below the finest) evaluate, only to find where the surface
    passes. The next level evaluates ``sdf`` at every corner of its active cells, the coarse
    points too, so every value marching cubes reads near the surface is ``sdf``'s; what can
    differ from a grid of ``sdf`` alone is only where the surface is looked for
    (``evaluations`` counts both functions).
    """
    level = _start_level(n, start)
    steps = int(np.log2(n // level))
    report = _LevelProgress(steps + 1, progress, on_level)
    searching = search if search is not None and level < min(n, SEARCH_UP_TO * 2) else sdf
    grid = evaluate_dense(searching, level, device, report.level(0), cancel)
    values = torch.from_numpy(grid.values).to(device)
    exact = torch.ones(values.shape, dtype=torch.bool, device=device)
    evaluations = grid.evaluations
    for step in range(steps):
        fine = level * 2
        if searching is not sdf and (fine == n or fine > SEARCH_UP_TO):
            # the coarse values are search's: evaluate them again
            searching, exact = sdf, torch.zeros_like(exact)
        values, exact, count = _refine(searching, values, exact, level, level <= BAND_UP_TO,
                                       report.level(step + 1), cancel)
        evaluations += count
        level *= 2
    if progress:
        progress(1.0)
    lo = -SDF_BOUND - SDF_PAD
    return SdfGrid(values.cpu().numpy(), lo, -lo, evaluations)


def grid_levels(n: int, start: int = START) -> int:
    """How many levels evaluate_coarse_to_fine goes through for an n^3 grid (the dense one too)."""
    return int(np.log2(n // _start_level(n, start))) + 1


def _start_level(n: int, start: int) -> int:
    level = min(start, n)
    while n % level:
        level //= 2
    return level


class _LevelProgress:
    """Level k of `levels` covers its weighted share of 0..1 (weights 1, 2, 4, ...)."""

    def __init__(self, levels: int, progress: ProgressFn | None, on_level: LevelFn | None):
        weights = [2.0**k for k in range(levels)]
        total = sum(weights)
        self.starts = [sum(weights[:k]) / total for k in range(levels)]
        self.shares = [w / total for w in weights]
        self.levels, self.progress, self.on_level = levels, progress, on_level

    def level(self, k: int) -> ProgressFn:
        if self.on_level:
            self.on_level(k + 1, self.levels)
        start, share, progress = self.starts[k], self.shares[k], self.progress

        def report(frac: float) -> None:
            if progress:
                progress(start + share * min(max(frac, 0.0), 1.0))

        report(0.0)
        return report


def _refine(
    sdf: SdfFunction, values: torch.Tensor, exact: torch.Tensor, level: int, banded: bool,
    report: ProgressFn, cancel: CancelFn | None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """One level finer: the coarse grid upsampled, evaluated where the surface passes.

    ``exact`` flags the coarse points that hold an evaluated value. Every other fine point sits on
    one of them, and the upsampling keeps its value bit for bit, so it is not evaluated again
    (an eighth of a level's points, more on thin sheets of cells). Returns the fine grid, its
    ``exact`` flags and the number of points evaluated."""
    device = values.device
    fine_n = level * 2
    if banded:
        cell = (2 * (SDF_BOUND + SDF_PAD)) / level
        band = BAND_CELLS * cell * np.sqrt(3.0)
        active = _sign_change_cells(values) | _near_cells(values, band)
    else:
        active = _sign_change_cells(values)
    values = F.interpolate(
        values[None, None], size=(fine_n + 1,) * 3, mode="trilinear", align_corners=True
    )[0, 0]
    known = torch.zeros((fine_n + 1,) * 3, dtype=torch.bool, device=device)
    known[::2, ::2, ::2] = exact
    todo = _cells_to_points(active, fine_n) & ~known
    axis = torch.from_numpy(grid_axis(fine_n)).to(device)
    evaluations = 0
    for round_ in range(CLOSURE_ROUNDS + 1):
        if cancel and cancel():
            raise Cancelled()
        idx = todo.nonzero()
        if not len(idx):
            break
        pts = torch.stack([axis[idx[:, 0]], axis[idx[:, 1]], axis[idx[:, 2]]], dim=-1)
        values[idx[:, 0], idx[:, 1], idx[:, 2]] = _evaluate_points(
            sdf, pts, report if round_ == 0 else None, cancel
        )
        evaluations += pts.shape[0]
        known |= todo
        todo = _cells_to_points(_sign_change_cells(values), fine_n, upsample=False) & ~known
    report(1.0)
    return values, known, evaluations


def _any_corner(flags: torch.Tensor) -> torch.Tensor:
    """Cells (n^3) with at least one flagged corner, from per-point flags ((n+1)^3, bool)."""
    n = flags.shape[0] - 1
    out = flags[:n, :n, :n].clone()
    for i, j, k in ((0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)):
        out |= flags[i : n + i, j : n + j, k : n + k]
    return out


def _sign_change_cells(values: torch.Tensor) -> torch.Tensor:
    return _any_corner(values < 0) & _any_corner(values > 0)


def _near_cells(values: torch.Tensor, band: float) -> torch.Tensor:
    return _any_corner(values.abs() < band)


def _cells_to_points(active: torch.Tensor, fine_n: int, upsample: bool = True) -> torch.Tensor:
    """Grid points at the corners of active cells: coarse cells (each covers 3 fine points per
    axis) or, with ``upsample=False``, cells of the fine grid itself."""
    up = active
    if upsample:
        up = up.repeat_interleave(2, 0).repeat_interleave(2, 1).repeat_interleave(2, 2)
    points = torch.zeros((fine_n + 1,) * 3, dtype=torch.bool, device=active.device)
    for i in (0, 1):
        for j in (0, 1):
            for k in (0, 1):
                points[i : fine_n + i, j : fine_n + j, k : fine_n + k] |= up
    return points


@torch.no_grad()
def _evaluate_points(
    sdf: SdfFunction, pts: torch.Tensor, progress: ProgressFn | None, cancel: CancelFn | None
) -> torch.Tensor:
    """The SDF at every point, chunk by chunk, cancellation checked before each chunk."""
    out = torch.empty(pts.shape[0], dtype=torch.float32, device=pts.device)
    start, size = 0, MIN_CHUNK
    while start < pts.shape[0]:
        if cancel and cancel():
            raise Cancelled()
        end = min(start + size, pts.shape[0])
        began = time.perf_counter()
        out[start:end] = sdf(pts[start:end]).float()
        size = next_chunk_size(end - start, time.perf_counter() - began)
        start = end
        if progress:
            progress(end / pts.shape[0])
    return out


def next_chunk_size(points: int, seconds: float) -> int:
    """The chunk that should take about CHUNK_TARGET_S at the rate just measured."""
    rate = points / max(seconds, 1e-6)
    size = int(rate * CHUNK_TARGET_S) // MIN_CHUNK * MIN_CHUNK
    return min(max(size, MIN_CHUNK), CHUNK)


def marching_cubes(grid: SdfGrid) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (view frame) and faces of the zero level set, faces wound outward, stair-steps
    smoothed."""
    values = grid.values
    if not (values.min() < 0 < values.max()):
        raise BackendError(
            "no_surface",
            "The predicted shape has no surface inside the reconstruction volume (the object may "
            "be too thin at the model's 128-pixel input); try a closer crop or another image.",
        )
    spacing = (grid.hi - grid.lo) / grid.resolution
    verts, faces, _, _ = measure.marching_cubes(
        values, level=0.0, spacing=(spacing,) * 3, gradient_direction="ascent"
    )
    # skimage winds its triangles against the normals it returns: on an [x, y, z] grid whose
    # outside is positive they face inward. Reversed here, every face faces out by
    # construction; trimesh's own fix only works once the merged mesh is watertight, and a
    # network's mesh often is not (parts touching along an edge), so 1 in 5 came out inside-out.
    # Then the cell-high stair-steps are smoothed away (mesh_cleanup.smooth_surface).
    faces = faces[:, ::-1].astype(np.int64)
    verts = smooth_surface(verts.astype(np.float64) + grid.lo, faces, spacing)
    return verts.astype(np.float32), faces


def extract_mesh(
    sdf: SdfFunction, resolution: int = 256, device: torch.device | None = None,
    progress: ProgressFn | None = None, cancel: CancelFn | None = None, face_budget: int = 0,
    silhouette_fill: SilhouetteFill | None = None, search: SdfFunction | None = None,
):
    """Coarse-to-fine grid (its coarse levels on ``search`` where given), the silhouette fill if
    asked, marching cubes and clean-up in one call: a trimesh in the view frame."""
    from .mesh_cleanup import clean_mesh

    grid = evaluate_coarse_to_fine(sdf, resolution, device or torch.device("cpu"),
                                   progress=progress, cancel=cancel, search=search)
    if silhouette_fill is not None:
        grid, _ = fill_missed_rays(grid, silhouette_fill)
    verts, faces = marching_cubes(grid)
    return clean_mesh(verts, faces, face_budget)
