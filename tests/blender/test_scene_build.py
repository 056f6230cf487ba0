"""scene.build's mesh: the bundle's texture (or vertex colours) as the base colour, smooth
shading with sharp edges kept, UV seams merged back into one surface."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from bl_harness import run_blender
from PIL import Image

from backend.bundle import write_bundle
from backend.contract import CAMERA_DISTANCE
from backend.framing import to_model_input
from backend.geometry import MODEL_INPUT_SIZE
from backend.multiview.poses import camera_to_view, matrix_json, view_transforms
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


# ----- several photos (issue 35): a camera per photo used, placed at its camera_to_view -----


def pose(azimuth: float, elevation: float, reference_elevation: float = 0.0) -> list:
    """Photo k's camera_to_view as the backend writes it (backend/multiview/poses.py)."""
    transform = view_transforms([0.0, azimuth], [reference_elevation, elevation])[1]
    return matrix_json(camera_to_view(transform))


def view_entry(k: int, used: bool = True, **kw) -> dict:
    return {"index": k, "source": f"view {k + 1}", "used": used,
            "pose": ("given" if used else None) if k else None,
            "azimuth": kw.get("azimuth"), "elevation": kw.get("elevation"),
            "confidence": kw.get("confidence"),
            "message": None if used else f"Photo {k + 1} (view {k + 1}) was left out: no pose "
                                         "fits its outline",
            "camera_to_view": pose(kw.get("azimuth", 0.0), kw.get("elevation", 0.0))
            if used else None,
            "input": f"views/{k}.png" if used and k else None}


VIEWS = [view_entry(0, azimuth=0.0, elevation=0.0),
         view_entry(1, azimuth=90.0, elevation=0.0),
         view_entry(2, used=False),
         view_entry(3, azimuth=200.0, elevation=30.0, confidence=0.8)]


def views_bundle(folder: Path, views: list[dict], photos: tuple[int, ...] = (1, 3)) -> Path:
    """The box bundle with a `views` list and the framed photos views/<k>.png."""
    box_bundle(folder, vertex_colors=True)
    result = json.loads((folder / "result.json").read_text())
    (folder / "result.json").write_text(json.dumps({**result, "views": views}))
    (folder / "views").mkdir()
    for k in photos:
        Image.fromarray(cutout()).save(folder / "views" / f"{k}.png")
    return folder


@pytest.fixture(scope="module")
def views_run(profile, tmp_path_factory):
    root = tmp_path_factory.mktemp("views")
    bad = [*VIEWS[:3], {**VIEWS[3], "camera_to_view": [[1, 0, 0], [0, 1, 0]]}]
    args = {"views": views_bundle(root / "front", VIEWS),
            "single": views_bundle(root / "single", VIEWS[:1], photos=()),
            "old": box_bundle(root / "old", vertex_colors=True)[0],
            "missing_photo": views_bundle(root / "missing", VIEWS, photos=(1,)),
            "bad_matrix": views_bundle(root / "bad", bad)}
    return run_blender(profile, "scene_views", {k: str(v) for k, v in args.items()})


def test_a_camera_per_photo_used_named_by_its_input_position(views_run):
    found = views_run["views"]
    assert found["outcome"] == "FINISHED" and found["meshes"] == 1
    assert sorted(found["cameras"]) == ["front Camera", "front Camera 2", "front Camera 4"]


def test_each_camera_sits_at_its_pose_mapped_like_everything_else(views_run):
    cameras = views_run["views"]["cameras"]
    to_blender = np.array([[1, 0, 0, 0], [0, 0, -1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], float)
    for k, name in ((0, "front Camera"), (1, "front Camera 2"), (3, "front Camera 4")):
        expected = to_blender @ np.array(VIEWS[k]["camera_to_view"])
        assert np.allclose(cameras[name]["matrix"], expected, atol=1e-5), name
        assert cameras[name]["centre_seen_at"] == pytest.approx([0.5, 0.5], abs=1e-5)
        assert cameras[name]["up_z"] > 0.8  # upright
        assert cameras[name]["lens"] == 35.0 and cameras[name]["sensor"] == 32.0
    # azimuth 90: the camera has swung from the front (-Y) toward +X, level with the object
    assert cameras["front Camera 2"]["matrix"][0][3] == pytest.approx(CAMERA_DISTANCE)
    assert cameras["front Camera 4"]["matrix"][2][3] == pytest.approx(
        CAMERA_DISTANCE * np.sin(np.radians(30.0)))


def test_every_photo_camera_shows_its_photo(views_run):
    cameras = views_run["views"]["cameras"]
    for camera in cameras.values():
        assert camera["show_backgrounds"] and camera["backgrounds"] == 1
        assert camera["image_size"] == [MODEL_INPUT_SIZE] * 2 and camera["packed"]
    assert cameras["front Camera 4"]["props"] == {
        "slice3d_view": 3, "slice3d_source": "view 4", "slice3d_pose": "given",
        "slice3d_azimuth": 200.0, "slice3d_elevation": 30.0, "slice3d_confidence": 0.8,
        "slice3d_job": "front", "slice3d_model": "test"}


def test_a_photo_left_out_is_reported_with_its_reason(views_run):
    assert views_run["views"]["messages"] == [
        "Photo 3 (view 3) was left out: no pose fits its outline"]
    # File > Import says so too (a warning: printed under the bpy module)
    assert ('Warning: Added "Slice3D front". Photo 3 (view 3) was left out: no pose fits its '
            "outline.") in views_run["_stdout"]


def test_one_photo_and_old_bundles_import_as_before(views_run):
    for kind, name in (("single", "single Camera"), ("old", "old Camera")):
        found = views_run[kind]
        assert found["outcome"] == "FINISHED" and list(found["cameras"]) == [name], kind
        assert found["cameras"][name]["backgrounds"] == 0 and found["messages"] == []


def test_a_broken_bundle_of_several_photos_adds_nothing(views_run):
    assert views_run["missing_photo"].startswith("ERROR")
    assert "lacks views/3.png" in views_run["missing_photo"]
    assert "Photo 4 of the bundle has no valid camera_to_view" in views_run["bad_matrix"]
    assert views_run["broken_unchanged"]


def test_one_undo_step_takes_the_whole_import_back(views_run):
    assert views_run["again"] == "FINISHED"
    assert views_run["undo"] == "FINISHED" and views_run["undo_restores"]
