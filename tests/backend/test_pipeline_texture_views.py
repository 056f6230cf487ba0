"""backend.pipeline: a several-photo job paints its texture from every used photo, not only
photo 0 (issue 35 meets issue 34)."""

from __future__ import annotations

import numpy as np
import torch
import trimesh
from backend_test_support import encode
from multiview_scene import SIDE_COLOURS, known_object, photograph
from PIL import Image

from backend.multiview.request import ViewRequest
from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor

FRONT, BACK = SIDE_COLOURS[4], SIDE_COLOURS[5]  # the known object's +Z and -Z faces


def back_colour(bundle) -> np.ndarray:
    """The median texture colour at the mesh.glb vertices that face away from photo 0's camera
    (view frame -z), sampled through their UVs."""
    mesh = trimesh.load(bundle / "mesh.glb", force="mesh")
    assert isinstance(mesh.visual, trimesh.visual.TextureVisuals)
    colours = np.asarray(mesh.visual.to_color().vertex_colors, float)[:, :3]
    back = np.asarray(mesh.vertex_normals)[:, 2] < -0.8
    assert back.sum() > 20
    return np.median(colours[back], axis=0)


def test_a_back_photo_paints_the_back_of_the_texture(tmp_path):
    obj = known_object()
    front, back = (encode(Image.fromarray(photograph(obj, az, 0.0, size=200, scale=0.9)), "PNG")
                   for az in (0.0, 180.0))
    options = ReconstructOptions(predictor="baseline", resolution=32, texture_size=512,
                                 name="front.png")
    rec = Reconstructor(torch.device("cpu"))
    one = rec.run(ViewRequest.single(front, "front.png"), options, tmp_path / "one")
    two = rec.run(ViewRequest((front, back), ("front.png", "back.png"), (0.0, 180.0), (0.0, 0.0)),
                  options, tmp_path / "two")
    assert one["texture"] and two["texture"] and [v["used"] for v in two["views"]] == [True, True]
    alone, both = back_colour(tmp_path / "one"), back_colour(tmp_path / "two")
    # alone: the median of photo 0, which shows the front; with the back photo: the back's colour
    assert np.abs(alone - FRONT).max() < 30 and np.abs(alone - BACK).max() > 100
    assert np.abs(both - BACK).max() < 30, (alone, both)
