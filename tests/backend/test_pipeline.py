"""backend.pipeline.Reconstructor.run: the whole path of one image (and of several photos of one
object), with progress and cancel."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh
from backend_test_support import cutout_png, encode, wheel_png
from multiview_scene import known_object, photograph
from PIL import Image
from scipy import ndimage

from backend.errors import BackendError, Cancelled
from backend.framing import to_model_input
from backend.meshing import SdfGrid
from backend.multiview.placement import MIN_CONFIDENCE, MIN_FOUND_CONFIDENCE
from backend.multiview.request import ViewRequest
from backend.options import ReconstructOptions
from backend.pipeline import MULTI_STAGES, STAGES, Reconstructor, paint_surface, stage_key
from backend.silhouette_fill import ray_minima

STAGE_ORDER = ["decode", "mask", "frame", "predict", "sdf", "mesh", "cleanup", "texture",
               "bundle"]


@pytest.fixture(scope="module")
def reconstructor() -> Reconstructor:
    return Reconstructor(torch.device("cpu"))


def baseline(**kwargs) -> ReconstructOptions:
    return ReconstructOptions(predictor="baseline", **{"resolution": 32, **kwargs})


def test_stage_shares_sum_to_one():
    assert list(STAGES) == STAGE_ORDER
    assert sum(STAGES.values()) == pytest.approx(1.0)


def test_progress_is_monotonic_and_reaches_one(reconstructor, tmp_path):
    events: list[tuple[str, float]] = []
    result = reconstructor.run(cutout_png(), baseline(resolution=64), tmp_path / "out",
                               progress=lambda stage, frac: events.append((stage, frac)))
    fractions = [f for _, f in events]
    assert all(b >= a for a, b in zip(fractions, fractions[1:], strict=False)), fractions
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert events[-1] == ("done", 1.0)
    stages = list(dict.fromkeys(stage_key(s) for s, _ in events))  # labels are words now
    assert stages == STAGE_ORDER + ["done"]
    assert len([s for s, _ in events if stage_key(s) == "sdf"]) > 2  # the grid reports as it goes
    for stage in STAGE_ORDER[:-1]:  # not "bundle": result.json cannot time its own writing
        assert result["timings_s"][stage] >= 0
    assert result["timings_s"]["total"] > 0
    assert result["mask_method"] == "alpha"
    assert (tmp_path / "out" / "mesh.glb").is_file()


def test_mesh_sits_where_the_picture_shows_it(reconstructor, tmp_path):
    """A tall box off to the right: framing centres it, and the mesh stands upright (+y up)."""
    rgba = np.zeros((256, 256, 4), dtype=np.uint8)
    rgba[40:200, 150:230] = (0, 120, 255, 255)  # a tall box in the right part of the picture
    out = tmp_path / "box"
    reconstructor.run(encode(Image.fromarray(rgba, "RGBA"), "PNG"), baseline(resolution=64), out)
    mesh = trimesh.load(out / "mesh.glb", force="mesh")
    extent = mesh.bounds[1] - mesh.bounds[0]
    assert extent[1] > 1.5 * extent[0]  # tall stays tall: framing keeps the aspect, +y is up
    # Framing centres the object, so the mesh is centred on the origin in x and y.
    centre = (mesh.bounds[0] + mesh.bounds[1]) / 2
    assert abs(centre[0]) < 0.05 and abs(centre[1]) < 0.05
    assert not mesh.is_watertight  # glTF splits vertices along the texture's UV seams ...
    mesh.merge_vertices(merge_tex=True, merge_norm=True)
    assert mesh.is_watertight  # ... and merging them by position closes the surface again


def test_opaque_photo_goes_through_background_removal(reconstructor, tmp_path, apple_bytes):
    result = reconstructor.run(apple_bytes, baseline(), tmp_path / "apple")
    assert result["mask_method"] == "rembg"
    assert result["mesh"]["faces"] > 100


def test_face_budget_reaches_the_bundle(reconstructor, tmp_path):
    result = reconstructor.run(cutout_png(), baseline(resolution=64, face_budget=300),
                               tmp_path / "small")
    assert 0 < result["mesh"]["faces"] <= 300
    on_disk = json.loads((tmp_path / "small" / "result.json").read_text())
    assert on_disk["mesh"]["faces"] == result["mesh"]["faces"]


def test_cancel_during_the_grid_leaves_no_bundle(reconstructor, tmp_path):
    stages: list[str] = []
    with pytest.raises(Cancelled):
        reconstructor.run(cutout_png(), baseline(resolution=128), tmp_path / "c",
                          progress=lambda s, f: stages.append(stage_key(s)),
                          cancel=lambda: "sdf" in stages)
    assert "mesh" not in stages
    assert list(tmp_path.iterdir()) == []


def test_cancel_before_start(reconstructor, tmp_path):
    with pytest.raises(Cancelled):
        reconstructor.run(cutout_png(), baseline(), tmp_path / "c", cancel=lambda: True)
    assert list(tmp_path.iterdir()) == []


def test_no_object_is_reported_and_nothing_written(reconstructor, tmp_path):
    white = encode(Image.new("RGB", (128, 128), "white"), "PNG")
    with pytest.raises(BackendError) as info:
        reconstructor.run(white, baseline(), tmp_path / "white")
    assert info.value.code == "no_object"
    assert list(tmp_path.iterdir()) == []


def test_object_that_vanishes_when_framed_is_no_object(reconstructor, tmp_path):
    """Single pixels spread over the picture: the mask keeps them, the 128 px frame cannot."""
    rgba = np.zeros((256, 256, 4), dtype=np.uint8)
    rgba[::4, ::4] = (200, 100, 50, 255)
    with pytest.raises(BackendError) as info:
        reconstructor.run(encode(Image.fromarray(rgba, "RGBA"), "PNG"), baseline(),
                          tmp_path / "dots")
    assert info.value.code == "no_object" and "too thin" in info.value.message
    assert list(tmp_path.iterdir()) == []


def test_border_warning(reconstructor, tmp_path):
    rgba = np.zeros((128, 128, 4), dtype=np.uint8)
    rgba[30:128, 30:100] = (200, 200, 0, 255)  # runs off the bottom edge
    result = reconstructor.run(encode(Image.fromarray(rgba, "RGBA"), "PNG"), baseline(),
                               tmp_path / "cut")
    assert any("border" in w for w in result["warnings"])


def test_predictors_are_kept_warm(reconstructor):
    assert reconstructor.predictor("baseline") is reconstructor.predictor("baseline")


def test_flip_average_option_reaches_the_network(reconstructor, tmp_path):
    """The shipped weights are calibrated with the mirror average on: 'auto' must give the same
    mesh as 'on', and 'off' (one network pass) a different one."""
    meshes = {}
    for mode in ("auto", "on", "off"):
        opts = ReconstructOptions(predictor="network", resolution=32, flip_average=mode)
        result = reconstructor.run(cutout_png(), opts, tmp_path / mode)
        assert result["options"]["flip_average"] == mode
        meshes[mode] = trimesh.load(tmp_path / mode / "mesh.glb", force="mesh")
    assert reconstructor.predictor("network").settings.flip_average  # the weights' own choice
    assert np.array_equal(meshes["auto"].vertices, meshes["on"].vertices)
    off, on = meshes["off"].vertices, meshes["on"].vertices
    assert off.shape != on.shape or not np.allclose(off, on)


def test_silhouette_fill_brings_back_the_thin_parts_the_network_loses(reconstructor, tmp_path):
    """A thin spoked wheel: the network's own surface misses most rays through the mask. With
    the shipped weights' fill ('auto') every one of them that does not touch the surface's own
    outline meets a surface in the bundle's grid, bar a few that fall between the grid points of
    this 64^3 preview; 'off' turns the fill off."""
    assert reconstructor.predictor("network").settings.silhouette_fill is not None
    lowest = {}
    for mode in ("off", "auto"):
        opts = ReconstructOptions(predictor="network", resolution=64, keep_sdf=True,
                                  silhouette_fill=mode)
        out = tmp_path / mode
        result = reconstructor.run(wheel_png(), opts, out)
        assert result["options"]["silhouette_fill"] == mode
        values = np.load(out / "sdf.npy").astype(np.float32)
        lo, hi = result["sdf"]["bounds"]
        mask = np.asarray(Image.open(out / "input.png"))[..., 3] > 130  # alpha above 0.5
        lowest[mode], _ = ray_minima(SdfGrid(values, lo, hi, 0), mask.shape[0])
    seen = lowest["off"] <= 0
    outline = ndimage.binary_dilation(seen) & ~seen
    lost = mask & ~seen & ~outline
    assert (mask & ~seen).sum() > 500 and lost.sum() > 300
    assert (lowest["auto"][lost] > 0).sum() < 10
    assert (lowest["auto"][seen] <= 0).all()  # what the network had, it keeps


def _cutout() -> np.ndarray:
    rgba = np.zeros((128, 128, 4), dtype=np.uint8)
    rgba[32:96, 32:96] = (200, 60, 40, 255)
    return rgba


@pytest.mark.parametrize(("mesh", "reason"), [
    # One triangle of zero area: xatlas itself gives no atlas for it.
    (trimesh.Trimesh(np.zeros((3, 3)), [[0, 1, 2]], process=False), "incomplete atlas"),
    # Far more faces than a texture is made for: refused before minutes of unwrapping.
    (trimesh.creation.icosphere(subdivisions=7, radius=0.3), "lower face_budget"),
])
def test_texture_failure_falls_back_to_vertex_colours_with_a_warning(mesh, reason):
    surface = paint_surface(mesh, _cutout(), to_model_input(_cutout()), ReconstructOptions())
    assert surface.texture is None
    assert isinstance(surface.mesh.visual, trimesh.visual.ColorVisuals)
    assert len(surface.mesh.visual.vertex_colors) == len(mesh.vertices)
    (warning,) = surface.warnings
    assert warning.startswith("The texture could not be made") and reason in warning
    assert "vertices instead" in warning


def test_texture_by_default_vertex_colours_on_request():
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    textured = paint_surface(mesh, _cutout(), to_model_input(_cutout()),
                             ReconstructOptions(texture_size=512))
    assert textured.texture.shape == (512, 512, 3) and textured.warnings == ()
    assert isinstance(textured.mesh.visual, trimesh.visual.TextureVisuals)
    coloured = paint_surface(mesh, _cutout(), to_model_input(_cutout()),
                             ReconstructOptions(vertex_colors=True))
    assert coloured.texture is None and coloured.warnings == ()


# -- several photos of one object (issue 35) ---------------------------------------------------

POSES = [(0.0, 15.0), (90.0, 15.0), (200.0, 30.0)]
NAMES = ("front.png", "side.png", "back.png")


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.fixture(scope="module")
def photos() -> tuple[bytes, ...]:
    mesh = known_object()
    return tuple(encode(Image.fromarray(photograph(mesh, az, el, size=200, scale=0.9)), "PNG")
                 for az, el in POSES)


def stranger() -> bytes:
    """A long horizontal rod: no camera makes the tall object look like it."""
    rod = trimesh.creation.box((0.9, 0.08, 0.08))
    return encode(Image.fromarray(photograph(rod, 0.0, 0.0, size=200)), "PNG")


def view_options(**kw) -> ReconstructOptions:
    return ReconstructOptions(**{"predictor": "baseline", "resolution": 32, "name": NAMES[0],
                                 **kw})


def test_given_poses_through_the_network(reconstructor, photos, tmp_path):
    request = ViewRequest(photos, NAMES, (0.0, 90.0, 200.0), (15.0, 15.0, 30.0))
    events: list[tuple[str, float]] = []
    result = reconstructor.run(request, view_options(predictor="network", flip_average="off"),
                               tmp_path / "out", progress=lambda s, f: events.append((s, f)))
    fractions = [f for _, f in events]
    assert all(b >= a for a, b in zip(fractions, fractions[1:], strict=False))
    assert list(dict.fromkeys(stage_key(s) for s, _ in events)) == list(MULTI_STAGES) + ["done"]
    assert sum(MULTI_STAGES.values()) == pytest.approx(1.0)
    assert result["model_kind"] == "network"
    views = result["views"]
    assert [(v["used"], v["pose"], v["azimuth"], v["elevation"]) for v in views] == [
        (True, "given", 0.0, 15.0), (True, "given", 90.0, 15.0), (True, "given", 200.0, 30.0)]
    assert [v["source"] for v in views] == list(NAMES)
    for k in (1, 2):
        framed = np.asarray(Image.open(tmp_path / "out" / "views" / f"{k}.png"))
        assert framed.shape == (128, 128, 4) and framed[..., 3].max() == 255
    assert json.loads((tmp_path / "out" / "result.json").read_text())["views"] == views
    assert result["pose_search"]["candidates"] >= 2 and "poses" in result["timings_s"]


def test_found_poses_used_when_sure_asked_for_when_not_and_a_stranger_left_out(
        reconstructor, photos, tmp_path):
    """The baseline's inflated outlines agree 0.91 with the back photo and 0.76 with the side
    one: the back is placed and used, the side is left out asking for its azimuth (a found pose
    below MIN_FOUND_CONFIDENCE cost shape on the validation split), the rod is another object."""
    request = ViewRequest(photos + (stranger(),), NAMES + ("rod.png",))
    result = reconstructor.run(request, view_options(), tmp_path / "out")
    views = result["views"]
    assert views[0]["pose"] == "found" and views[0]["used"]
    side, back, rod = views[1:]
    assert back["used"] and back["pose"] == "found"
    assert angle_error(back["azimuth"], POSES[2][0]) <= 20, back
    assert MIN_FOUND_CONFIDENCE <= back["confidence"] <= 1.0
    assert (tmp_path / "out" / "views" / "2.png").is_file()
    assert not side["used"] and side["pose"] is None and side["camera_to_view"] is None
    assert MIN_CONFIDENCE <= side["confidence"] < MIN_FOUND_CONFIDENCE
    assert side["message"].startswith("Photo 2 (side.png) was left out: the camera position "
                                      "found for it agrees only")
    assert side["message"].endswith("give its azimuth to use it.")
    assert not rod["used"] and rod["camera_to_view"] is None and rod["input"] is None
    assert rod["confidence"] < MIN_CONFIDENCE
    assert "Photo 4 (rod.png) was left out: no camera position makes it match" in rod["message"]
    assert side["message"] in result["warnings"] and rod["message"] in result["warnings"]
    assert not (tmp_path / "out" / "views" / "1.png").exists()
    assert not (tmp_path / "out" / "views" / "3.png").exists()


def test_unreadable_extra_photo_is_left_out(reconstructor, photos, tmp_path):
    request = ViewRequest((photos[0], b"no picture"), NAMES[:2], (0.0, 90.0), (15.0, 15.0))
    result = reconstructor.run(request, view_options(), tmp_path / "out")
    assert [v["used"] for v in result["views"]] == [True, False]
    assert "not an image" in result["views"][1]["message"]
    assert result["views"][0]["pose"] == "given" and result["views"][0]["elevation"] == 15.0
    assert result["pose_search"] == {"seconds": 0.0, "candidates": 0}


def test_cancel_while_placing_leaves_no_bundle(reconstructor, photos, tmp_path):
    seen: list[str] = []
    request = ViewRequest(photos, NAMES)
    with pytest.raises(Cancelled):
        reconstructor.run(request, view_options(), tmp_path / "out",
                          progress=lambda s, f: seen.append(stage_key(s)),
                          cancel=lambda: "poses" in seen)
    assert not (tmp_path / "out").exists()


def test_one_photo_request_is_the_one_image_job(reconstructor, tmp_path):
    image = cutout_png()
    a = reconstructor.run(image, view_options(name="disc"), tmp_path / "a")
    b = reconstructor.run(ViewRequest.single(image, "disc"), view_options(name="disc"),
                          tmp_path / "b")
    assert (tmp_path / "a" / "mesh.glb").read_bytes() == (tmp_path / "b" / "mesh.glb").read_bytes()
    assert a["views"] == b["views"] and len(a["views"]) == 1
    assert a["pose_search"] is None and "poses" not in a["timings_s"]
    assert not (tmp_path / "a" / "views").exists()
