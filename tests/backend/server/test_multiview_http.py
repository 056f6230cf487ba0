"""Several photos of one object in one HTTP job (docs/API.md: view_sizes, azimuths,
elevations), spoken to a real `python -m backend serve` over loopback."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from backend_test_support import ServerProcess, encode
from multiview_scene import known_object, photograph
from PIL import Image

from backend.contract import CAMERA_DISTANCE, MAX_VIEWS

POSES = [(0.0, 15.0), (90.0, 15.0), (200.0, 30.0)]


@pytest.fixture(scope="module")
def photos() -> list[bytes]:
    mesh = known_object()
    return [encode(Image.fromarray(photograph(mesh, az, el, size=160, scale=0.9)), "PNG")
            for az, el in POSES]


def post_views(server: ServerProcess, images: list[bytes], **params) -> object:
    query = {"predictor": "baseline", "resolution": "32",
             "view_sizes": ",".join(str(len(b)) for b in images), **params}
    return server.post("/jobs", data=b"".join(images), params=query)


def test_photos_with_given_poses_make_one_bundle_with_their_views(server, photos):
    response = post_views(server, photos, azimuths="0,90,200", elevations="15,15,30",
                          name="box")
    assert response.status_code == 202, response.text
    job = response.json()["id"]
    status = server.wait(job)
    assert status["state"] == "done", status
    assert {"poses", "fuse"} <= set(status["timings_s"])
    archive = zipfile.ZipFile(io.BytesIO(server.get(f"/jobs/{job}/result").content))
    names = set(archive.namelist())
    assert {"mesh.glb", "input.png", "views/1.png", "views/2.png"} <= names
    result = json.loads(archive.read("result.json"))
    views = result["views"]
    assert [v["index"] for v in views] == [0, 1, 2]
    assert [v["source"] for v in views] == ["box", "photo 2", "photo 3"]
    assert all(v["used"] and v["pose"] == "given" for v in views)
    assert [v["azimuth"] for v in views] == [0.0, 90.0, 200.0]
    assert [v["elevation"] for v in views] == [15.0, 15.0, 30.0]
    assert [v["input"] for v in views] == ["input.png", "views/1.png", "views/2.png"]
    reference = np.array(views[0]["camera_to_view"])
    np.testing.assert_allclose(reference[:3, 3], [0, 0, CAMERA_DISTANCE], atol=1e-6)
    side = np.array(views[1]["camera_to_view"])
    assert np.linalg.norm(side[:3, 3]) == pytest.approx(CAMERA_DISTANCE, abs=1e-5)
    assert side[0, 3] > 1.0  # 90 degrees round: the camera stands on the reference's right
    view = Image.open(io.BytesIO(archive.read("views/1.png")))
    assert view.size == (128, 128) and view.mode == "RGBA"
    server.delete(f"/jobs/{job}")


def test_one_image_without_view_sizes_is_a_one_view_job(server, photos):
    job = server.submit(photos[0], resolution="32")
    assert server.wait(job)["state"] == "done"
    archive = zipfile.ZipFile(io.BytesIO(server.get(f"/jobs/{job}/result").content))
    assert not any(n.startswith("views/") for n in archive.namelist())
    views = json.loads(archive.read("result.json"))["views"]
    assert len(views) == 1 and views[0]["index"] == 0 and views[0]["used"]
    assert views[0]["pose"] is None and views[0]["input"] == "input.png"
    server.delete(f"/jobs/{job}")


def bad_cases(photos: list[bytes]) -> list[tuple[str, list[bytes], dict, int, str]]:
    sizes = ",".join(str(len(b)) for b in photos)
    return [
        ("sizes short of the body", photos, {"view_sizes": sizes + ",1"}, 400, "add up"),
        ("sizes past the body", photos,
         {"view_sizes": f"{len(photos[0])},{len(photos[1]) + 5},{len(photos[2])}"}, 400,
         "add up"),
        ("a size that is no number", photos, {"view_sizes": "12,x,3"}, 400, "view_sizes"),
        ("a zero size", photos, {"view_sizes": f"0,{sizes}"}, 400, "at least 1 byte"),
        ("too many photos", [photos[0]] * (MAX_VIEWS + 1), {}, 422, f"at most {MAX_VIEWS}"),
        ("azimuths short", photos, {"azimuths": "0,90"}, 422, "one azimuth per photo"),
        ("first azimuth not 0", photos, {"azimuths": "10,90,180"}, 422, "must be 0"),
        ("azimuth no number", photos, {"azimuths": "0,left,180"}, 422, "azimuths"),
        ("elevations long", photos, {"elevations": "1,2,3,4"}, 422, "one elevation per photo"),
        ("elevation straight down", photos, {"elevations": "10,10,95"}, 422, "Elevation 3"),
        ("photo 2 no image", [photos[0], b"not a picture at all", photos[2]], {}, 415,
         "Photo 2"),
    ]


def test_bad_multi_photo_requests_are_4xx_with_a_message(server, photos):
    for what, images, params, status, words in bad_cases(photos):
        response = post_views(server, images, **params)
        assert response.status_code == status, (what, response.text)
        message = response.json()["error"]["message"]
        assert words in message, (what, message)
    assert server.get("/health").status_code == 200  # and it keeps serving
    job = server.submit(photos[0], resolution="32")
    assert server.wait(job)["state"] == "done"
    server.delete(f"/jobs/{job}")
