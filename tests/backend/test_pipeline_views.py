"""backend.pipeline.Reconstructor.run with several photos of one object (issue 35): given poses,
poses found where the truth is known, a photo of something else left out, cancel, and a
one-photo request that is exactly the one-image job."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import trimesh
from backend_test_support import cutout_png, encode
from multiview_scene import known_object, photograph
from PIL import Image

from backend.errors import Cancelled
from backend.multiview.request import ViewRequest
from backend.options import ReconstructOptions
from backend.pipeline import MULTI_STAGES, Reconstructor, stage_key

POSES = [(0.0, 15.0), (90.0, 15.0), (200.0, 30.0)]
NAMES = ("front.png", "side.png", "back.png")


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.fixture(scope="module")
def reconstructor() -> Reconstructor:
    return Reconstructor(torch.device("cpu"))


@pytest.fixture(scope="module")
def photos() -> tuple[bytes, ...]:
    mesh = known_object()
    return tuple(encode(Image.fromarray(photograph(mesh, az, el, size=200, scale=0.9)), "PNG")
                 for az, el in POSES)


def stranger() -> bytes:
    """A long horizontal rod: no camera makes the tall object look like it."""
    rod = trimesh.creation.box((0.9, 0.08, 0.08))
    return encode(Image.fromarray(photograph(rod, 0.0, 0.0, size=200)), "PNG")


def options(**kw) -> ReconstructOptions:
    return ReconstructOptions(**{"predictor": "baseline", "resolution": 32, "name": NAMES[0],
                                 **kw})


def test_given_poses_through_the_network(reconstructor, photos, tmp_path):
    request = ViewRequest(photos, NAMES, (0.0, 90.0, 200.0), (15.0, 15.0, 30.0))
    events: list[tuple[str, float]] = []
    result = reconstructor.run(request, options(predictor="network", flip_average="off"),
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


def test_found_poses_and_a_stranger_left_out(reconstructor, photos, tmp_path):
    request = ViewRequest(photos + (stranger(),), NAMES + ("rod.png",))
    result = reconstructor.run(request, options(), tmp_path / "out")
    views = result["views"]
    assert views[0]["pose"] == "found" and views[0]["used"]
    for view, (az, _) in zip(views[1:3], POSES[1:], strict=True):
        assert view["used"] and view["pose"] == "found"
        assert angle_error(view["azimuth"], az) <= 20, view
        assert 0.6 <= view["confidence"] <= 1.0
    rod = views[3]
    assert not rod["used"] and rod["camera_to_view"] is None and rod["input"] is None
    assert "Photo 4 (rod.png) was left out" in rod["message"]
    assert rod["message"] in result["warnings"]
    assert not (tmp_path / "out" / "views" / "3.png").exists()
    assert (tmp_path / "out" / "views" / "2.png").is_file()


def test_unreadable_extra_photo_is_left_out(reconstructor, photos, tmp_path):
    request = ViewRequest((photos[0], b"no picture"), NAMES[:2], (0.0, 90.0), (15.0, 15.0))
    result = reconstructor.run(request, options(), tmp_path / "out")
    assert [v["used"] for v in result["views"]] == [True, False]
    assert "not an image" in result["views"][1]["message"]


def test_cancel_while_placing_leaves_no_bundle(reconstructor, photos, tmp_path):
    seen: list[str] = []
    request = ViewRequest(photos, NAMES)
    with pytest.raises(Cancelled):
        reconstructor.run(request, options(), tmp_path / "out",
                          progress=lambda s, f: seen.append(stage_key(s)),
                          cancel=lambda: "poses" in seen)
    assert not (tmp_path / "out").exists()


def test_one_photo_request_is_the_one_image_job(reconstructor, tmp_path):
    image = cutout_png()
    a = reconstructor.run(image, options(name="disc"), tmp_path / "a")
    b = reconstructor.run(ViewRequest.single(image, "disc"), options(name="disc"), tmp_path / "b")
    assert (tmp_path / "a" / "mesh.glb").read_bytes() == (tmp_path / "b" / "mesh.glb").read_bytes()
    assert a["views"] == b["views"] and len(a["views"]) == 1
    assert a["pose_search"] is None and "poses" not in a["timings_s"]
    assert not (tmp_path / "a" / "views").exists()
