"""Shared last step of every real-mesh source: normalise, judge soundness, attach the SDF."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from training.data.mesh import ShapeMesh, normalise_vertices, weld
from training.data.mesh_sdf import (
    AMBIGUOUS_BAND,
    MAX_AMBIGUOUS,
    MeshSDF,
    choose_method,
    is_closed,
    winding_numbers,
)
from training.data.raycast import Caster
from training.data.repair import cap_bottom
from training.data.sampling import PoolSampler
from training.data.sources.base import Dropped, Shape
from training.data.views import camera_position

MIN_THICKNESS = 0.01  # smallest bbox side relative to the diagonal: flatter is a card, not a solid
MAX_UNSEEN = 0.002  # inside points whose line of sight misses the mesh (see unseen_inside)
MIN_INSIDE = 0.03  # near-surface points inside: fewer means the "solid" has no volume to speak of
_UNEVALUATED = [False]  # set by unevaluated_pools()


@contextmanager
def unevaluated_pools() -> Iterator[None]:
    """Within: ``finish_shape`` draws the SDF pool's points but evaluates none of them (its
    distances read 0), skips the winding-number probe and the checks on the evaluated pool, and
    leaves the random state just before those checks in ``mesh.meta["_replay"]`` with the sign
    method. The ``colors`` backfill re-prepares a built shape this way: same mesh and pool
    points in seconds, not the winding-number pass that dominates a build."""
    _UNEVALUATED[0] = True
    try:
        yield
    finally:
        _UNEVALUATED[0] = False


def signed_volume(mesh: ShapeMesh) -> float:
    """Volume enclosed with outward faces (negative when the faces point inward)."""
    v = mesh.vertices[mesh.faces]
    return float(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0)


def finish_shape(
    shape_id: str, source: str, family: str, mesh: ShapeMesh, rng: np.random.Generator
) -> Shape | Dropped:
    """Normalise ``mesh`` (in place) and build its pooled SDF sampler, or drop it with a reason."""
    finite = np.isfinite(mesh.vertices).all(1)  # a few files carry NaN vertices: drop their faces
    mesh.faces = mesh.faces[finite[mesh.faces].all(1)]
    if len(mesh.faces) < 4 or len(mesh.vertices) < 4:
        return Dropped(shape_id, "degenerate")
    drop_unused_vertices(mesh)
    mesh.vertices, _, _ = normalise_vertices(mesh.vertices)
    ext = mesh.vertices.max(0) - mesh.vertices.min(0)
    if ext.min() < MIN_THICKNESS:
        return Dropped(shape_id, "flat")
    if mesh.face_areas.sum() <= 0:
        return Dropped(shape_id, "degenerate")
    _, welded = weld(mesh.vertices, mesh.faces, 1e-6)
    if not is_closed(welded):  # game art often has no floor: close open bottoms first
        mesh.meta["capped_faces"] = cap_bottom(mesh)
    method = choose_method(mesh)
    if method is None:
        return Dropped(shape_id, "open_mesh_too_large")
    if signed_volume(mesh) < 0:  # inside-out files (0 A.D. winds clockwise): face outward
        mesh.faces = mesh.faces[:, ::-1].copy()
    reason = probe_winding(mesh, rng) if method == "winding" else None
    if reason:
        return Dropped(shape_id, reason)
    sdf = MeshSDF(mesh, method)
    if _UNEVALUATED[0]:
        sampler = PoolSampler(mesh, lambda p: np.zeros(len(p)), rng)
        sampler.sdf = sdf
        mesh.meta["_replay"] = (rng.bit_generator.state, method)
        return Shape(shape_id, source, family, mesh, sampler)
    sampler = PoolSampler(mesh, sdf, rng)
    reason = pool_reason(mesh, sdf, sampler, method, rng)
    if reason:
        return Dropped(shape_id, reason)
    return Shape(shape_id, source, family, mesh, sampler)


def drop_unused_vertices(mesh: ShapeMesh) -> None:
    """Drop every vertex no face uses, so that the bounding box is the surface's."""
    used = np.unique(mesh.faces)
    if len(used) == len(mesh.vertices):
        return
    remap = np.full(len(mesh.vertices), -1)
    remap[used] = np.arange(len(used))
    mesh.faces = remap[mesh.faces]
    mesh.vertices = mesh.vertices[used]
    for attr in ("uv", "vertex_colors"):
        if getattr(mesh, attr) is not None:
            setattr(mesh, attr, getattr(mesh, attr)[used])
    if mesh.meta.get("_vnormals") is not None:
        mesh.meta["_vnormals"] = mesh.meta["_vnormals"][used]


def probe_winding(mesh: ShapeMesh, rng: np.random.Generator) -> str | None:
    """Reject clear cases on 1,500 points before paying for the pool: the drop reason, or None."""
    probe, _ = mesh.sample_surface(1500, rng)
    probe = probe + rng.normal(size=probe.shape) * 0.015
    if _UNEVALUATED[0]:  # a re-prepared shape its build kept: only the draws matter
        return None
    w = np.abs(winding_numbers(probe, mesh.vertices, mesh.faces))
    if ((w > AMBIGUOUS_BAND[0]) & (w < AMBIGUOUS_BAND[1])).mean() > 2 * MAX_AMBIGUOUS:
        return "ambiguous_sign"
    if (w > 0.5).mean() < 0.5 * MIN_INSIDE:
        return "no_volume"
    return None


def pool_reason(mesh: ShapeMesh, sdf: MeshSDF, sampler: PoolSampler, method: str,
                rng: np.random.Generator) -> str | None:
    """The checks on the evaluated pool: the drop reason, or None."""
    if method == "winding":
        w = np.abs(sdf.last_winding)  # near pool first, then the uniform pool
        amb = (w > AMBIGUOUS_BAND[0]) & (w < AMBIGUOUS_BAND[1])
        if amb[: len(sampler.near)].mean() > MAX_AMBIGUOUS or amb.mean() > MAX_AMBIGUOUS:
            return "ambiguous_sign"
    if (sampler.near_sdf < 0).mean() < MIN_INSIDE:
        return "no_volume"
    if method == "winding" and unseen_inside(mesh, sampler, rng) > MAX_UNSEEN:
        return "inside_off_silhouette"
    return None


def unseen_inside(mesh: ShapeMesh, sampler: PoolSampler, rng: np.random.Generator) -> float:
    """Fraction of (inside point, camera direction) pairs whose whole line of sight misses the
    mesh: such a point would be labelled inside yet fall outside the input's silhouette, which
    happens when winding numbers of an open mesh claim space the surface does not enclose."""
    inside = np.concatenate(
        [sampler.near[sampler.near_sdf < 0], sampler.uniform[sampler.uniform_sdf < 0]]
    )
    if len(inside) == 0:
        return 0.0
    pts = inside[rng.choice(len(inside), min(2000, len(inside)), replace=False)]
    caster = Caster(mesh)
    missed = []
    for az in range(0, 360, 45):  # camera directions inside the training range
        for el in (-10.0, 15.0, 40.0):
            d = camera_position(az, el)
            hit = caster.occluded(pts, d, eps=0.0) | caster.occluded(pts, -d, eps=0.0)
            missed.append(~hit)
    return float(np.mean(missed))
