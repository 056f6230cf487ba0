"""Cross-check the camera contract against Blender itself: our input silhouette and a Workbench
render of the same mesh from a 35 mm / 32 mm camera at world (0, -1.2, 0) must coincide."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from training.data.mesh import ShapeMesh
from training.data.raycast import Caster
from training.data.render import render_input
from training.data.shading import random_look
from training.data.views import View

bpy = pytest.importorskip("bpy", reason="bpy (Blender as a module) is not installed")


def test_silhouette_matches_blender(tmp_path):
    from training.data.bench_blender import _blender_scene, _render

    parts = [trimesh.creation.box([0.5, 0.1, 0.2]), trimesh.creation.icosphere(2, radius=0.12)]
    parts[1].apply_translation([0.2, 0.15, 0.05])
    tm = trimesh.util.concatenate(parts)
    mesh = ShapeMesh(np.asarray(tm.vertices), np.asarray(tm.faces))
    view = View(35.0, 25.0, 0.9)
    ours = render_input(Caster(mesh), view, random_look(np.random.default_rng(0)), 128)
    _, scene, _ = _blender_scene(view.to_view(mesh.vertices), mesh.faces, 128)
    scene.render.engine = "BLENDER_WORKBENCH"
    theirs = _render(bpy, scene, tmp_path / "wb.png")
    a, b = ours[..., 3] > 127, theirs[..., 3] > 127
    assert a.sum() > 500
    iou = (a & b).sum() / (a | b).sum()
    mirrored = (a[:, ::-1] & b).sum() / (a[:, ::-1] | b).sum()
    assert iou > 0.96 and mirrored < 0.9, (iou, mirrored)
