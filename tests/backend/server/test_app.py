"""The HTTP API of docs/API.md, spoken to a real `python -m backend serve` over loopback."""

from __future__ import annotations

import io
import json
import signal
import socket
import stat
import subprocess
import sys
import zipfile
from dataclasses import fields

import numpy as np
import pytest
import requests
from backend_test_support import (
    APPLE,
    REPO_ROOT,
    UPLOAD_LIMIT_MB,
    ServerProcess,
    cutout_png,
    encode,
    huge_png,
    truncated_png,
)
from PIL import Image

from backend import __version__
from backend.geometry import SLICE_NAMES
from backend.multiview.request import VIEW_PARAMETERS
from backend.options import ReconstructOptions

BUNDLE_FILES = ({"mesh.glb", "texture.png", "input.png", "result.json"}
                | {f"slices/{n}.png" for n in SLICE_NAMES})
JOB_KEYS = {"id", "state", "stage", "progress", "error", "queue_position", "timings_s"}

BAD_UPLOADS = {
    "not an image": (b"Dear backend, please make me a mesh.", 415, "not_an_image"),
    "gif": (encode(Image.new("RGB", (64, 64), "red"), "GIF"), 415, "not_an_image"),
    "truncated": (truncated_png(), 400, "bad_image"),
    "zero bytes": (b"", 400, "bad_image"),
    "1x1": (encode(Image.new("RGB", (1, 1), "red"), "PNG"), 400, "image_too_small"),
    "huge": (huge_png(9000), 413, "too_large"),
}

BAD_OPTIONS = [
    ({"resolution": "abc"}, "resolution"), ({"resolution": "100"}, "resolution"),
    ({"resolution": ""}, "resolution"), ({"resolution": "1024"}, "resolution"),
    ({"face_budget": "-1"}, "face_budget"), ({"face_budget": "lots"}, "face_budget"),
    ({"background": "green"}, "background"), ({"predictor": "magic"}, "predictor"),
    ({"keep_sdf": "maybe"}, "keep_sdf"), ({"name": "x" * 201}, "name"),
    ({"colour": "red"}, "colour"), ({"flip_average": "maybe"}, "flip_average"),
    ({"silhouette_fill": "on"}, "silhouette_fill"),
]

# Every route, every method, plus what is not a route: all of them need the token.
ROUTES = [
    ("GET", "/health"), ("POST", "/jobs"), ("GET", "/jobs/abc"), ("GET", "/jobs/abc/result"),
    ("DELETE", "/jobs/abc"), ("POST", "/shutdown"), ("GET", "/openapi.json"), ("GET", "/docs"),
    ("GET", "/redoc"), ("GET", "/no/such/path"), ("PUT", "/health"), ("GET", "/"),
]


def assert_error(response: requests.Response, status: int, code: str) -> str:
    """The API's error shape exactly, no stack trace; returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == code, body
    message = body["error"]["message"]
    assert isinstance(message, str) and message.strip()
    for leak in ("Traceback", 'File "', "Error(", "site-packages"):
        assert leak not in response.text
    return message


# -- start-up ----------------------------------------------------------------------------------


def test_state_file_token_and_banner(server: ServerProcess):
    state = server.state
    assert set(state) == {"url", "port", "pid", "version"}
    assert state["url"] == f"http://127.0.0.1:{state['port']}"
    assert state["pid"] == server.proc.pid and state["version"] == __version__
    assert f"Slice3D backend listening on {state['url']}" in server.stdout()
    # The token file did not exist: the server made one, readable by its owner only.
    assert stat.S_IMODE(server.token_file.stat().st_mode) == 0o600
    assert len(server.token) >= 16


def test_health(server: ServerProcess):
    response = server.get("/health")
    assert response.status_code == 200
    health = response.json()
    assert health["version"] == __version__ and health["device"] == "cpu"
    assert health["ready"] is True and health["model_kind"] in ("baseline", "network")
    assert isinstance(health["queue"], int)
    if health["model_kind"] == "baseline":
        assert "baseline" in health["model"]


# -- the token ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_the_token(server: ServerProcess, method, path):
    wrong = [None, "Bearer not-the-token", f"Bearer {server.token}x", server.token,
             f"Basic {server.token}", f"Bearer  {server.token}", "Bearer "]
    for header in wrong:
        headers = {} if header is None else {"Authorization": header}
        response = requests.request(method, server.url + path, headers=headers,
                                    data=cutout_png() if method == "POST" else None, timeout=30)
        assert_error(response, 401, "unauthorized")
    assert server.proc.poll() is None  # an unauthorised POST /shutdown did not stop it
    assert server.get("/health").status_code == 200


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_upload(server: ServerProcess, case):
    data, status, code = BAD_UPLOADS[case]
    pending = server.get("/health").json()["queue"]
    response = server.post("/jobs", data=data, params={"resolution": 32})
    message = assert_error(response, status, code)
    if case == "huge":
        assert "9000x9000" in message
    assert server.get("/health").json()["queue"] == pending  # refused before it was queued


@pytest.mark.parametrize(("params", "option"), BAD_OPTIONS)
def test_malformed_options(server: ServerProcess, params, option):
    response = server.post("/jobs", data=cutout_png(), params=params)
    assert option in assert_error(response, 422, "bad_options")


def test_upload_over_the_limit(server: ServerProcess):
    body = b"\x89PNG" + bytes(UPLOAD_LIMIT_MB * 1024 * 1024 + 10)
    message = assert_error(server.post("/jobs", data=body), 413, "too_large")
    assert f"{UPLOAD_LIMIT_MB} MiB" in message


def test_chunked_upload_over_the_limit(server: ServerProcess):
    """No Content-Length to go by: the limit is enforced while the body streams in."""

    def chunks():
        for _ in range(UPLOAD_LIMIT_MB * 16 + 4):
            yield bytes(65536)

    assert_error(server.post("/jobs", data=chunks()), 413, "too_large")


def test_upload_under_the_limit_is_read_whole(server: ServerProcess):
    """A body just under the limit is not refused for its size (it is judged as an image)."""
    body = bytes(UPLOAD_LIMIT_MB * 1024 * 1024 - 1024)
    assert_error(server.post("/jobs", data=body), 415, "not_an_image")


def test_unknown_job(server: ServerProcess):
    assert_error(server.get("/jobs/no-such-job"), 404, "not_found")
    assert_error(server.get("/jobs/no-such-job/result"), 404, "not_found")
    assert_error(server.delete("/jobs/no-such-job"), 404, "not_found")


def test_unknown_path_and_method(server: ServerProcess):
    assert_error(server.get("/no/such/path"), 404, "not_found")
    assert_error(server.session.put(server.url + "/health", timeout=30), 405,
                 "method_not_allowed")


def test_server_keeps_serving_after_bad_inputs(server: ServerProcess):
    """A volley of every bad request, then a good job still runs to a complete bundle."""
    for data, status, _ in BAD_UPLOADS.values():
        assert server.post("/jobs", data=data).status_code == status
    for params, _ in BAD_OPTIONS:
        assert server.post("/jobs", data=cutout_png(), params=params).status_code == 422
    requests.post(server.url + "/shutdown", timeout=30)  # no token
    server.get("/jobs/nope")
    job_id = server.submit(cutout_png(), resolution=32, name="after the storm")
    status = server.wait(job_id)
    assert status["state"] == "done", status
    result = server.get(f"/jobs/{job_id}/result")
    with zipfile.ZipFile(io.BytesIO(result.content)) as zf:
        assert json.loads(zf.read("result.json"))["source"] == "after the storm"
    assert server.proc.poll() is None
    assert "Traceback" not in server.stderr()


# -- a good job --------------------------------------------------------------------------------


def test_good_job_and_its_bundle(server: ServerProcess):
    response = server.post("/jobs", data=cutout_png(),
                           params={"resolution": 64, "predictor": "baseline", "name": "disc.png",
                                   "keep_sdf": "true", "face_budget": "1000"})
    assert response.status_code == 202
    accepted = response.json()
    assert set(accepted) == {"id", "state"} and accepted["state"] in ("queued", "running")
    status = server.wait(accepted["id"])
    assert set(status) == JOB_KEYS
    assert status["state"] == "done" and status["progress"] == 1.0 and status["error"] is None
    assert status["queue_position"] == 0
    for stage in ("decode", "mask", "frame", "predict", "sdf", "mesh", "cleanup", "total"):
        assert status["timings_s"][stage] >= 0

    result = server.get(f"/jobs/{accepted['id']}/result")
    assert result.status_code == 200
    assert result.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(result.content)) as zf:
        assert set(zf.namelist()) == BUNDLE_FILES | {"sdf.npy"}  # files at the zip root
        meta = json.loads(zf.read("result.json"))
    assert meta["source"] == "disc.png" and meta["options"]["resolution"] == 64
    assert meta["model_kind"] == "baseline" and 0 < meta["mesh"]["faces"] <= 1000
    assert meta["sdf"]["resolution"] == 64
    # The result can be fetched again until it is forgotten.
    assert server.get(f"/jobs/{accepted['id']}/result").content == result.content


def scattered_dots() -> bytes:
    rgba = np.zeros((256, 256, 4), dtype=np.uint8)
    rgba[::4, ::4] = (200, 100, 50, 255)
    return encode(Image.fromarray(rgba, "RGBA"), "PNG")


@pytest.mark.parametrize("picture", ["plain white", "scattered dots"])
def test_job_without_an_object_fails_clearly(server: ServerProcess, picture):
    """It decodes fine (202), then the job fails with a message, never an internal error."""
    if picture == "plain white":
        image = encode(Image.new("RGB", (128, 128), "white"), "PNG")
    else:
        image = scattered_dots()
    job_id = server.submit(image, resolution=32)
    status = server.wait(job_id)
    assert status["state"] == "failed"
    assert status["error"]["code"] == "no_object", status["error"]
    assert_error(server.get(f"/jobs/{job_id}/result"), 409, "not_ready")


def test_alpha_background_on_an_opaque_photo_fails_clearly(server: ServerProcess):
    job_id = server.submit(APPLE.read_bytes(), resolution=32, background="alpha")
    status = server.wait(job_id)
    assert status["state"] == "failed" and status["error"]["code"] == "bad_image"
    assert "transparen" in status["error"]["message"]


# -- the OpenAPI description -------------------------------------------------------------------


def test_openapi_lists_every_route(server: ServerProcess):
    response = server.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["info"]["version"] == __version__
    routes = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert routes == {
        ("GET", "/health"), ("POST", "/jobs"), ("GET", "/jobs/{job_id}"),
        ("GET", "/jobs/{job_id}/result"), ("DELETE", "/jobs/{job_id}"), ("POST", "/shutdown"),
    }
    submit = spec["paths"]["/jobs"]["post"]
    documented = {p["name"] for p in submit["parameters"] if p["in"] == "query"}
    assert documented == {f.name for f in fields(ReconstructOptions)} | set(VIEW_PARAMETERS)
    assert "application/octet-stream" in submit["requestBody"]["content"]
    assert "202" in submit["responses"]
    assert "application/zip" in spec["paths"]["/jobs/{job_id}/result"]["get"]["responses"]["200"][
        "content"]


# -- shutdown (its own server) -----------------------------------------------------------------


def test_shutdown_stops_cleanly(tmp_path):
    """POST /shutdown with a job running: the process exits 0 and removes its state file.

    This server also gets a token file that exists already (the Blender side writes it first):
    it must be read as it is, not replaced.
    """
    (tmp_path / "own").mkdir()
    token = "a-token-the-extension-chose-0123456789"
    (tmp_path / "own" / "token").write_text(token + "\n")
    srv = ServerProcess(tmp_path / "own")
    try:
        assert srv.token == token
        port = srv.state["port"]
        job_id = srv.submit(APPLE.read_bytes(), resolution=256)
        srv.wait(job_id, states=("running", "done"))
        response = srv.post("/shutdown")
        assert response.status_code == 200 and response.json() == {"state": "stopping"}
        assert srv.proc.wait(timeout=60) == 0
        assert not srv.state_file.exists()
        assert (tmp_path / "own" / "token").read_text().strip() == token
        assert "Traceback" not in srv.stderr()
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more
    finally:
        srv.kill()


def test_start_up_errors_are_clear(tmp_path):
    """A token file too short to be a secret, a port already taken: exit 2 with a message."""
    short = tmp_path / "short-token"
    short.write_text("1234")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        runs = {
            "token": [short, "--port", "0"],
            "port": [tmp_path / "token", "--port", str(port)],
        }
        procs = {
            key: subprocess.Popen(
                [sys.executable, "-m", "backend", "serve", "--token-file", str(token_file),
                 "--state-file", str(tmp_path / f"{key}.json"), *rest],
                cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for key, (token_file, *rest) in runs.items()
        }
        try:
            results = {key: proc.communicate(timeout=120) for key, proc in procs.items()}
        finally:
            for proc in procs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(10)
    assert procs["token"].returncode == 2 and "shorter than 16" in results["token"][1]
    assert procs["port"].returncode == 2 and f"Cannot listen on 127.0.0.1:{port}" in (
        results["port"][1])
    for key in runs:
        assert "Traceback" not in results[key][1]
        assert not (tmp_path / f"{key}.json").exists()


def test_unusable_paths_fail_the_start(tmp_path):
    """A state file under a plain file, a token file that is a folder, a work dir under a plain
    file: exit 2 with one error line (they used to exit 0, or 1 with a traceback). A start that
    fails inside uvicorn (the state file's temporary name is a folder) must not exit 0 either."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / ".late.json.tmp").mkdir()
    runs = {
        "state": {"--state-file": tmp_path / "a-file" / "state.json"},
        "token": {"--token-file": tmp_path / "a-folder"},
        "work": {"--work-dir": tmp_path / "a-file" / "w"},
        "late": {"--state-file": tmp_path / "late.json"},
    }
    procs = {}
    for key, paths in runs.items():
        flags = {"--token-file": tmp_path / f"{key}.token", "--work-dir": tmp_path / key,
                 "--state-file": tmp_path / f"{key}.json", **paths}
        procs[key] = subprocess.Popen(
            [sys.executable, "-m", "backend", "serve", "--port", "0", "--device", "cpu",
             *(str(part) for flag in flags.items() for part in flag)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stderr = {key: proc.communicate(timeout=120)[1] for key, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    for key in ("state", "token", "work"):
        lines = [ln for ln in stderr[key].splitlines() if ln.strip()]
        assert procs[key].returncode == 2 and len(lines) == 1, (key, stderr[key])
        assert lines[0].startswith("error:"), (key, stderr[key])
    assert "a-file" in stderr["state"] and "a-folder" in stderr["token"]
    assert "--work-dir" in stderr["work"]
    assert procs["late"].returncode == 1, stderr["late"]
    assert not (tmp_path / "late.json").exists()


def test_sigterm_removes_the_state_file(tmp_path):
    """Stopped by a signal (as a parent process may do), the server still cleans up after itself:
    a stale state file would send the Blender side to a dead port."""
    srv = ServerProcess(tmp_path / "own")
    try:
        assert srv.get("/health").status_code == 200
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=60)
        assert not srv.state_file.exists()
        assert "Traceback" not in srv.stderr()
    finally:
        srv.kill()
