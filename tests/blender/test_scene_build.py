"""scene.build's mesh: the bundle's texture (or vertex colours) as the base colour, smooth
shading with sharp edges kept, UV seams merged back into one surface."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from bl_harness import run_blender

from backend.bundle import write_bundle
from backend.framing import to_model_input
from backend.geometry import MODEL_INPUT_SIZE
from backend.options import ReconstructOptions
from backend.pipeline import paint_surface

SIZE = 512


def cutout() -> np.ndarray:
    image = np.zeros((MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 4), np.uint8)
    image[40:88, 40:88] = (200, 60, 40, 255)
    return image


def box_bundle(folder: Path, vertex_colors: bool) -> tuple[Path, int]:
    """A real box through the backend's texturing and bundle writer (no network needed)."""
    mesh = trimesh.creation.box(extents=(0.3, 0.3, 0.3)).subdivide()
    count = len(mesh.vertices)
    options = ReconstructOptions(texture_size=SIZE, vertex_colors=vertex_colors)
    surface = paint_surface(mesh, cutout(), to_model_input(cutout()), options)
    assert (surface.texture is None) == vertex_colors and not surface.warnings
    result = {"source": "box.png", "model": "test", "slices": [], "warnings": [],
              "camera": {"lens_mm": 35.0, "sensor_mm": 32.0, "distance": 1.2},
              "texture": None if vertex_colors else {"file": "texture.png", "size": SIZE}}
    slices = np.zeros((12, MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 4), np.uint8)
    write_bundle(folder, surface.mesh, slices, cutout(), result, texture=surface.texture)
    return folder, count


@pytest.fixture(scope="module")
def run(profile, tmp_path_factory):
    root = tmp_path_factory.mktemp("material")
    textured, count = box_bundle(root / "textured", vertex_colors=False)
    coloured, _ = box_bundle(root / "coloured", vertex_colors=True)
    found = run_blender(profile, "scene_material",
                        {"textured": str(textured), "coloured": str(coloured)})
    found["box_vertices"] = count
    return found


def test_textured_bundle_feeds_an_image_texture_into_the_base_colour(run):
    textured = run["textured"]
    assert textured["outcome"] == ["FINISHED"]
    assert textured["materials"] == 1 and textured["node"] == "TEX_IMAGE"
    assert textured["image_size"] == [SIZE, SIZE] and textured["packed"]
    assert textured["uv_layers"] == 1


def test_vertex_colour_bundle_feeds_its_colour_attribute(run):
    coloured = run["coloured"]
    assert coloured["node"] == "VERTEX_COLOR" and coloured["image_size"] is None
    assert coloured["layer"] in coloured["colour_attributes"]


def test_smooth_with_the_box_edges_kept_sharp(run):
    textured = run["textured"]
    assert textured["smooth"]
    assert textured["sharp_edges"] >= 12  # the box's 12 edges (subdivided: more segments)
    assert textured["sharp_edges"] < textured["edges"] / 2  # the faces' insides stay smooth
    assert not run["flat"]["smooth"]


def test_uv_seams_are_merged_back_and_nothing_is_left_over(run):
    assert run["textured"]["vertices"] == run["box_vertices"]
    assert run["orphan_materials"] == [] and run["orphan_images"] == []
