"""The HTTP client against a real backend: answers, the server's own error messages, no answer."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest
from conftest import EXAMPLE

from client.http import BackendUnreachable, Client, ClientError


def wait_until_finished(client: Client, job_id: str, timeout_s: float = 120) -> dict:
    """Poll the job until it leaves the queue and the device; its last status."""
    deadline = time.monotonic() + timeout_s
    while (info := client.status(job_id))["state"] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return info


def test_health(backend):
    health = backend.client.health()
    assert health["ready"] is True and health["version"]


def test_a_job_runs_and_its_bundle_downloads(backend):
    client = backend.client
    job_id = client.submit(EXAMPLE.read_bytes(), resolution=32, predictor="baseline",
                           keep_sdf=False, name="apple.jpg", face_budget=None)
    info = wait_until_finished(client, job_id)
    assert info["state"] == "done", info
    with zipfile.ZipFile(io.BytesIO(client.result(job_id))) as zf:
        assert "result.json" in zf.namelist() and "mesh.glb" in zf.namelist()
    assert client.cancel(job_id)  # forgets the finished job
    with pytest.raises(ClientError) as err:
        client.status(job_id)
    assert err.value.status == 404 and err.value.code == "not_found"


def test_a_bad_image_is_refused_with_the_servers_message(backend):
    with pytest.raises(ClientError) as err:
        backend.client.submit(b"not a picture at all", resolution=32)
    assert 400 <= err.value.status < 500 and err.value.code != "http_error"
    assert str(err.value)


def test_a_wrong_token_is_named(backend):
    with pytest.raises(ClientError) as err:
        Client(backend.client.url, "wrong-token").health()
    assert err.value.status == 401 and "refused the token" in str(err.value)


def test_no_answer_is_unreachable():
    with pytest.raises(BackendUnreachable) as err:
        Client("http://127.0.0.1:9", "token", timeout=2).health()
    assert err.value.code == "unreachable" and err.value.status == 0
    assert isinstance(err.value, ClientError)


def test_a_loopback_backend_is_reached_past_an_http_proxy(backend, monkeypatch):
    """http_proxy set without no_proxy sent requests for 127.0.0.1 to the proxy."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    client = Client(backend.client.url, backend.client.token)
    assert client.health()["ready"] is True


def test_several_photos_go_as_one_job_with_their_poses(backend):
    """Issue 35: view_sizes/azimuths/elevations and the photos' bytes in one body."""
    client = backend.client
    photo = EXAMPLE.read_bytes()
    job_id = client.submit_views([photo, photo], [0, 180], [0, 0], resolution=32,
                                 predictor="baseline", name="apple.jpg")
    info = wait_until_finished(client, job_id)
    assert info["state"] == "done", info
    with zipfile.ZipFile(io.BytesIO(client.result(job_id))) as zf:
        assert "views/1.png" in zf.namelist()
        views = json.loads(zf.read("result.json"))["views"]
    client.cancel(job_id)
    assert [v["index"] for v in views] == [0, 1]
    assert views[1]["used"] and views[1]["pose"] == "given" and views[1]["azimuth"] == 180


def test_too_many_photos_are_refused_with_the_servers_message(backend):
    with pytest.raises(ClientError) as err:
        backend.client.submit_views([EXAMPLE.read_bytes()] * 7, resolution=32)
    assert 400 <= err.value.status < 500 and "at most 6 photos" in str(err.value)
