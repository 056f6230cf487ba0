"""Evaluation metrics, one definition everywhere (ARCHITECTURE.md section 9).

Chamfer-L1: the mean of the two directions' mean nearest-neighbour distances over 20,000 surface
samples each. F-score at tau: harmonic mean of precision (predicted samples within tau of the
reference) and recall (reference samples within tau of the prediction). Volumetric IoU only where
both meshes are watertight. ``compare`` reports all of them in the view frame and again
"normalised" (each mesh centred on its bounding box and scaled to bounding-box diagonal 1).
Normal consistency (ONet, ConvONet): each predicted sample's face normal against the normal of
the nearest reference sample's face, as a mean absolute cosine, and the other way, the two
averaged; 1 for matching surfaces. Chamfer and F-score barely see stair-steps and fins a fraction
of a cell high; the normals of such a surface tilt by up to 45 degrees, and this sees it.
``depth_ratio`` (predicted over reference extent along the view axis z) is a diagnostic beside
them: depth is what one image leaves most open, and a wrong depth costs most after normalising.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy.spatial import cKDTree

N_SAMPLES = 20_000
TAUS = (0.01, 0.05)
IOU_POINTS = 100_000


def sample_surface(mesh: trimesh.Trimesh, n: int = N_SAMPLES, seed: int = 0) -> np.ndarray:
    """Area-uniform surface samples, deterministic for a given seed."""
    return sample_surface_normals(mesh, n, seed)[0]


def sample_surface_normals(
    mesh: trimesh.Trimesh, n: int = N_SAMPLES, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The samples of ``sample_surface`` (the same points for a seed) and the unit normal of
    the face each lies on."""
    rng = np.random.default_rng(seed)
    tris = np.asarray(mesh.vertices, np.float64)[np.asarray(mesh.faces)]
    cross = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
    area = 0.5 * np.linalg.norm(cross, axis=1)
    if area.sum() <= 0:
        raise ValueError("mesh has no surface area")
    face = rng.choice(len(tris), size=n, p=area / area.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    t = tris[face]
    points = t[:, 0] + u[:, None] * (t[:, 1] - t[:, 0]) + v[:, None] * (t[:, 2] - t[:, 0])
    return points, cross[face] / (2.0 * area[face, None])


def normalise(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """Centred on its bounding box, scaled to bounding-box diagonal 1."""
    lo, hi = mesh.bounds
    diag = float(np.linalg.norm(hi - lo))
    out = mesh.copy()
    out.vertices = (np.asarray(mesh.vertices) - (lo + hi) / 2.0) / max(diag, 1e-12)
    return out


def point_metrics(
    pred: np.ndarray, ref: np.ndarray, taus=TAUS,
    normals: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, float]:
    """Chamfer-L1 and F-scores between two point samples; normal consistency too when
    ``normals`` holds the unit normals of (pred, ref)."""
    d_pred, i_pred = cKDTree(ref).query(pred, workers=1)  # each predicted sample -> reference
    d_ref, i_ref = cKDTree(pred).query(ref, workers=1)
    out = {"chamfer_l1": float(0.5 * (d_pred.mean() + d_ref.mean()))}
    if normals is not None:
        n_pred, n_ref = normals
        cos_pred = np.abs((n_pred * n_ref[i_pred]).sum(axis=1))
        cos_ref = np.abs((n_ref * n_pred[i_ref]).sum(axis=1))
        out["normal_consistency"] = float(0.5 * (cos_pred.mean() + cos_ref.mean()))
    for tau in taus:
        p = float((d_pred < tau).mean())
        r = float((d_ref < tau).mean())
        out[f"f@{tau:g}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


def volume_iou(a: trimesh.Trimesh, b: trimesh.Trimesh, n: int = IOU_POINTS, seed: int = 0):
    """IoU of the solids by uniform samples in the union of the bounding boxes; None unless both
    meshes are watertight."""
    if not (a.is_watertight and b.is_watertight):
        return None
    lo = np.minimum(a.bounds[0], b.bounds[0])
    hi = np.maximum(a.bounds[1], b.bounds[1])
    pts = lo + np.random.default_rng(seed).random((n, 3)) * (hi - lo)
    ia, ib = a.contains(pts), b.contains(pts)
    union = np.logical_or(ia, ib).sum()
    return float(np.logical_and(ia, ib).sum() / union) if union else None


def depth_ratio(pred: trimesh.Trimesh, ref: trimesh.Trimesh) -> float:
    """Extent along the view axis (z), prediction over reference: > 1 means too deep."""
    return float(pred.extents[2] / max(float(ref.extents[2]), 1e-12))


def compare(pred: trimesh.Trimesh, ref: trimesh.Trimesh, seed: int = 0, iou: bool = True) -> dict:
    """All metrics, view frame and normalised: keys like ``chamfer_l1``, ``norm/f@0.05``,
    ``norm/normal_consistency`` and ``depth_ratio``."""
    out: dict[str, float | None] = {"depth_ratio": depth_ratio(pred, ref)}
    for prefix, (p, r) in (("", (pred, ref)), ("norm/", (normalise(pred), normalise(ref)))):
        p_pts, p_nrm = sample_surface_normals(p, seed=seed)
        r_pts, r_nrm = sample_surface_normals(r, seed=seed)
        m: dict[str, float | None] = dict(point_metrics(p_pts, r_pts, normals=(p_nrm, r_nrm)))
        if iou:
            m["iou"] = volume_iou(p, r, seed=seed)
        out.update({prefix + k: v for k, v in m.items()})
    return out


def failed_metrics() -> dict:
    """What a missing prediction scores (no surface): worst case, so failures are not dropped."""
    out: dict[str, float | None] = {}
    for prefix in ("", "norm/"):
        out[prefix + "chamfer_l1"] = None
        out[prefix + "normal_consistency"] = 0.0
        for tau in TAUS:
            out[prefix + f"f@{tau:g}"] = 0.0
        out[prefix + "iou"] = 0.0
    return out
