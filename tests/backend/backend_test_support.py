"""Helpers shared by the backend tests: synthetic images and a real server subprocess.

Imported by name from the test modules (tests/backend/conftest.py puts this folder on sys.path
the way pytest's default import mode does for every conftest).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image, ImageDraw

REPO_ROOT = Path(__file__).resolve().parents[2]
APPLE = REPO_ROOT / "examples" / "apple.jpg"
UPLOAD_LIMIT_MB = 2  # the session server's upload limit, small so the 413 tests stay cheap


# -- images -----------------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def disc_mask(size: int = 128, radius: float = 0.3, centre=(0.5, 0.5)) -> np.ndarray:
    """Boolean [size, size] disc, radius and centre as fractions of the side."""
    yy, xx = np.mgrid[:size, :size]
    cx, cy = centre[0] * size, centre[1] * size
    return (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 < (radius * size) ** 2


def disc_on_background(
    size: int = 128, radius: float = 0.3, fg=(200, 40, 40), bg=(235, 235, 235)
) -> tuple[np.ndarray, np.ndarray]:
    """An opaque RGBA picture of a coloured disc on a plain background, and the disc's mask."""
    mask = disc_mask(size, radius)
    rgba = np.empty((size, size, 4), dtype=np.uint8)
    rgba[...] = (*bg, 255)
    rgba[mask, :3] = fg
    return rgba, mask


def disc_cutout(size: int = 128, radius: float = 0.3, centre=(0.5, 0.5)) -> np.ndarray:
    """RGBA with a meaningful alpha: an opaque orange disc on a fully transparent background."""
    mask = disc_mask(size, radius, centre)
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[mask] = (230, 120, 30, 255)
    return rgba


def cutout_png(size: int = 128, radius: float = 0.3) -> bytes:
    """A small PNG with a transparent background: the pipeline uses its alpha, no rembg needed."""
    return encode(Image.fromarray(disc_cutout(size, radius), "RGBA"), "PNG")


def wheel_png(size: int = 256) -> bytes:
    """A spoked wheel, face on, in thin strokes on a transparent background: parts that a
    network at 128 px easily loses."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    c, r = size / 2, size * 0.35
    draw.ellipse((c - r, c - r, c + r, c + r), outline=(150, 110, 60, 255), width=6)
    for a in np.linspace(0, np.pi, 4, endpoint=False):
        dx, dy = r * np.cos(a), r * np.sin(a)
        draw.line((c - dx, c - dy, c + dx, c + dy), fill=(150, 110, 60, 255), width=4)
    return encode(image, "PNG")


def truncated_png() -> bytes:
    data = encode(Image.fromarray(disc_cutout(64), "RGBA"), "PNG")
    return data[: len(data) // 2]


def huge_png(side: int = 9000) -> bytes:
    """A side x side 1-bit PNG: a few kilobytes of file that would be 81 megapixels decoded."""
    return encode(Image.new("1", (side, side)), "PNG")


# -- the server subprocess ---------------------------------------------------------------------


class ServerProcess:
    """`python -m backend serve` as a real child process, found through its state file."""

    def __init__(self, workdir: Path, extra_args: tuple[str, ...] = (), *,
                 work_dir: bool = True, env: dict[str, str] | None = None,
                 preexec_fn=None, state_file: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.token_file = self.workdir / "token"
        self.state_file = state_file or self.workdir / "state.json"
        self.stdout_path = self.workdir / "stdout.txt"
        self.stderr_path = self.workdir / "stderr.txt"
        cmd = [
            sys.executable, "-m", "backend", "serve", "--port", "0", "--device", "cpu",
            "--token-file", str(self.token_file), "--state-file", str(self.state_file),
            *(("--work-dir", str(self.workdir / "jobs")) if work_dir else ()), *extra_args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=out, stderr=err, env=env,
                                         preexec_fn=preexec_fn)
        self.state = self._wait_for_state(timeout=120.0)
        self.url = self.state["url"]
        self.token = self.token_file.read_text().strip()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def _wait_for_state(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.stderr()}")
            if self.state_file.exists():
                state = json.loads(self.state_file.read_text())
                if state.get("pid") == self.proc.pid:  # not a stale file of a dead server
                    return state
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"server did not write its state file in {timeout} s: {self.stderr()}")

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    # -- HTTP with the right token ---------------------------------------------------------

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.session.get(self.url + path, timeout=60, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.session.post(self.url + path, timeout=60, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.session.delete(self.url + path, timeout=60, **kwargs)

    def submit(self, image: bytes, **options) -> str:
        """POST /jobs with the options as query parameters; returns the job id (asserts 202)."""
        params = {"predictor": "baseline", **options}
        response = self.post("/jobs", data=image, params=params)
        assert response.status_code == 202, response.text
        return response.json()["id"]

    def wait(self, job_id: str, states=("done", "failed", "cancelled"), timeout=120.0) -> dict:
        """Poll GET /jobs/{id} until its state is one of `states`; returns the last status."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.get(f"/jobs/{job_id}")
            assert response.status_code == 200, response.text
            status = response.json()
            if status["state"] in states:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} still {status} after {timeout} s")
            time.sleep(0.02)

    # -- stopping --------------------------------------------------------------------------

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.session.close()
