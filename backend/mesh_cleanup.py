"""Mesh clean-up after marching cubes: specks removed, optional face budget.

Normals need no repair: marching cubes on an SDF that is negative inside, run with
gradient_direction="ascent", already winds every face outward (a test checks the volume sign).
"""

from __future__ import annotations

import numpy as np
import trimesh

MIN_PART_SHARE = 0.02  # a part with under 2% of the largest part's faces is a floating speck


def clean_mesh(vertices: np.ndarray, faces: np.ndarray, face_budget: int = 0) -> trimesh.Trimesh:
    """Merge, drop specks and degenerate faces, decimate to face_budget if > 0."""
    mesh = trimesh.Trimesh(vertices=vertices, faces=faces, process=True, validate=True)
    parts = mesh.split(only_watertight=False)
    if len(parts) > 1:
        largest = max(len(p.faces) for p in parts)
        kept = [p for p in parts if len(p.faces) >= MIN_PART_SHARE * largest]
        mesh = trimesh.util.concatenate(kept)
    if face_budget and len(mesh.faces) > face_budget:
        mesh = mesh.simplify_quadric_decimation(face_count=int(face_budget))
        mesh.process(validate=True)
    return mesh
