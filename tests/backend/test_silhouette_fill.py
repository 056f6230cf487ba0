"""backend.silhouette_fill: masked rays that miss the surface get a sheet where the SDF dips."""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from backend.geometry import CAMERA_DISTANCE, FOCAL_NDC
from backend.meshing import evaluate_dense, extract_mesh, grid_axis, marching_cubes
from backend.silhouette_fill import SilhouetteFill, fill_missed_rays, ray_minima

SIZE = 128
CPU = torch.device("cpu")
BODY = ((0.0, 0.0, 0.0), 0.2)  # a sphere the "network" gets right
GHOST = ((0.3, 0.0, 0.15), 0.06)  # a part it lost: positive all through
GHOST_FLOOR = 0.02  # its SDF bottoms out at this height above 0, at its centre


def sdf(pts: torch.Tensor) -> torch.Tensor:
    body = (pts - torch.tensor(BODY[0])).norm(dim=-1) - BODY[1]
    lost = 0.5 * (pts - torch.tensor(GHOST[0])).norm(dim=-1) + GHOST_FLOOR
    return torch.minimum(body, lost)


def pixel_of(point) -> tuple[int, int]:
    x, y, z = point
    depth = CAMERA_DISTANCE - z
    col = int((FOCAL_NDC * x / depth + 1) * SIZE / 2)
    row = int((-FOCAL_NDC * y / depth + 1) * SIZE / 2)
    return row, col


def disc_mask(centre, radius: float) -> np.ndarray:
    """The projection of a sphere, as a mask (conservative: the disc at the sphere's near side)."""
    r0, c0 = pixel_of(centre)
    depth = CAMERA_DISTANCE - centre[2]
    rad_px = FOCAL_NDC * radius / depth * SIZE / 2
    rr, cc = np.mgrid[0:SIZE, 0:SIZE]
    return (rr + 0.5 - r0) ** 2 + (cc + 0.5 - c0) ** 2 < rad_px**2


def mask_of_both() -> np.ndarray:
    return disc_mask(*BODY) | disc_mask(*GHOST)


def test_ray_minima_find_the_sdf_minimum_and_its_depth():
    grid = evaluate_dense(sdf, 64, CPU)
    lowest, z_at = ray_minima(grid, SIZE)
    r, c = pixel_of(BODY[0])
    assert abs(lowest[r, c] + BODY[1]) < 0.02  # through the body's centre: -radius
    assert abs(z_at[r, c] - BODY[0][2]) < 0.03
    r, c = pixel_of(GHOST[0])
    assert abs(lowest[r, c] - GHOST_FLOOR) < 0.01  # through the lost part: the floor, above 0
    assert abs(z_at[r, c] - GHOST[0][2]) < 0.03
    assert lowest[0, 0] > 0.2  # a corner ray passes far from both


def test_ray_minima_of_some_pixels_are_those_of_all_pixels_there():
    """The fill samples only the mask's rays and their neighbours: those rays give exactly what
    sampling every ray gives, the others read as missed (+inf) at depth 0."""
    grid = evaluate_dense(sdf, 64, CPU)
    where = ndimage.binary_dilation(mask_of_both())
    lowest, z_at = ray_minima(grid, SIZE)
    some_lowest, some_z = ray_minima(grid, SIZE, where)
    assert 0 < where.sum() < SIZE * SIZE / 2
    np.testing.assert_array_equal(some_lowest[where], lowest[where])
    np.testing.assert_array_equal(some_z[where], z_at[where])
    assert np.isinf(some_lowest[~where]).all() and (some_z[~where] == 0).all()
    nothing, _ = ray_minima(grid, SIZE, np.zeros((SIZE, SIZE), bool))
    assert np.isinf(nothing).all()


def test_the_fill_puts_a_sheet_on_the_lost_part_only():
    grid = evaluate_dense(sdf, 64, CPU)
    filled, count = fill_missed_rays(grid, SilhouetteFill(mask_of_both(), 0.02))
    assert count > 20  # the ghost's disc, less what the body covers
    lowest, _ = ray_minima(filled, SIZE)
    inner = disc_mask(GHOST[0], GHOST[1] * 0.7)
    assert (lowest[inner] < 0).all()  # every ray through the lost part now meets a surface
    # grid points that project onto the body alone (its rays hit already) keep their values
    changed = filled.values != grid.values
    assert changed.any()
    axis = grid_axis(64)
    xs, ys, zs = np.nonzero(changed)
    assert (axis[xs] > 0.15).all()  # every change lies on the ghost's side of the image
    # the sheet sits at the depth of the lost part, not in front of it or behind it
    verts, _ = marching_cubes(filled)
    near_ghost = np.linalg.norm(verts[:, :2] - np.array(GHOST[0][:2]), axis=1) < 0.03
    assert near_ghost.any()
    assert np.abs(verts[near_ghost, 2] - GHOST[0][2]).max() < 0.02 + 1.1 / 64


def test_nothing_changes_when_every_masked_ray_meets_the_surface():
    grid = evaluate_dense(sdf, 32, CPU)
    filled, count = fill_missed_rays(grid, SilhouetteFill(disc_mask(BODY[0], BODY[1] * 0.9), 0.02))
    assert count == 0 and filled is grid


def test_a_mask_one_pixel_wider_than_the_surface_makes_no_fringe():
    """Missed pixels along the surface's own outline get no sheet; a detached part still does."""
    grid = evaluate_dense(sdf, 64, CPU)
    seen = ray_minima(grid, SIZE)[0] <= 0
    ring = ndimage.binary_dilation(seen) & ~seen
    assert ring.sum() > 50
    filled, count = fill_missed_rays(grid, SilhouetteFill(seen | ring, 0.02))
    assert count == 0 and filled is grid
    filled, count = fill_missed_rays(grid, SilhouetteFill(seen | ring | disc_mask(*GHOST), 0.02))
    assert 0 < count <= disc_mask(*GHOST).sum()


def test_a_lost_part_growing_out_of_the_body_is_joined_to_it():
    """An arm the network lost, from inside the body outwards: its sheet would start a pixel off
    the body's outline and float free; the outline pixels next to it join the two. At 128^3,
    where grid points are a mask pixel apart, so no widening closes the gap instead."""
    start, end, radius = torch.tensor([0.1, 0.0, 0.0]), torch.tensor([0.42, 0.0, 0.0]), 0.03

    def arm_distance(pts: torch.Tensor) -> torch.Tensor:
        t = ((pts - start) @ (end - start) / (end - start).dot(end - start)).clamp(0, 1)
        return (pts - start - t[:, None] * (end - start)).norm(dim=-1)

    def body(pts: torch.Tensor) -> torch.Tensor:
        return (pts - torch.tensor(BODY[0])).norm(dim=-1) - BODY[1]

    def truth(pts: torch.Tensor) -> torch.Tensor:
        return torch.minimum(body(pts), arm_distance(pts) - radius)

    def lost_arm(pts: torch.Tensor) -> torch.Tensor:
        return torch.minimum(body(pts), 0.5 * arm_distance(pts) + GHOST_FLOOR)

    mask = ray_minima(evaluate_dense(truth, 64, CPU), SIZE)[0] <= 0
    plain = extract_mesh(lost_arm, resolution=128, device=CPU)
    filled = extract_mesh(lost_arm, resolution=128, device=CPU,
                          silhouette_fill=SilhouetteFill(mask, 0.02))
    assert plain.bounds[1, 0] < BODY[1] + 0.02  # the network's own surface stops at the body
    assert filled.bounds[1, 0] > float(end[0])  # the sheet reaches the arm's end...
    assert len(filled.split(only_watertight=False)) == 1  # ...and hangs on to the body


def test_extract_mesh_applies_the_fill_it_is_given():
    plain = extract_mesh(sdf, resolution=64, device=CPU)
    filled = extract_mesh(sdf, resolution=64, device=CPU,
                          silhouette_fill=SilhouetteFill(mask_of_both(), 0.02))
    # the plain mesh stops at the body; the filled one reaches out to the lost part
    assert plain.bounds[1, 0] < BODY[1] + 0.02
    assert filled.bounds[1, 0] > GHOST[0][0]
    assert len(filled.split(only_watertight=False)) == 2  # body and the sheet


def test_a_one_pixel_part_gets_its_sheet_on_a_grid_coarser_than_the_mask():
    """At 64^3 grid points lie 2 mask pixels apart: a 1-pixel line would fall between them
    (without the widening 6% of its rays stay missed here)."""
    row = SIZE // 2 + 20

    def rod(pts: torch.Tensor) -> torch.Tensor:  # lost everywhere: lowest along y = y(row), z = 0
        y_row = -((row + 0.5) / (SIZE / 2) - 1.0) / FOCAL_NDC * CAMERA_DISTANCE
        return 2.0 * torch.stack([pts[:, 1] - y_row, pts[:, 2]], -1).norm(dim=-1) + GHOST_FLOOR

    mask = np.zeros((SIZE, SIZE), bool)
    mask[row, 30:98] = True
    grid = evaluate_dense(rod, 64, CPU)
    filled, count = fill_missed_rays(grid, SilhouetteFill(mask, 0.02))
    lowest, _ = ray_minima(filled, SIZE)
    assert count == mask.sum()
    assert (lowest[mask] < 0).all()
