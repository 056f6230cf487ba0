"""Bounded inputs and early checks (issue 32 items 7, 8, 13): regular files only, size before
reading, the output folder checked before any work, and messages that say what is wrong."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
import zlib

import numpy as np
import pytest
from backend_test_support import REPO_ROOT, cutout_png
from PIL import Image, PngImagePlugin

from backend.contract import MAX_UPLOAD_MB
from backend.errors import BackendError, Cancelled
from backend.intake import CORRUPT_MESSAGE, load_image, read_image_file
from backend.meshing import CHUNK, MIN_CHUNK, evaluate_coarse_to_fine, next_chunk_size


def backend(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)


# -- reading files -----------------------------------------------------------------------------


@pytest.mark.slow  # runs the command line
def test_a_fifo_and_a_device_are_refused_at_once_and_the_good_image_still_runs(tmp_path):
    fifo = tmp_path / "x.png"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.png"
    zero.symlink_to("/dev/zero")
    good = tmp_path / "disc.png"
    good.write_bytes(cutout_png())
    big = tmp_path / "big.png"
    with open(big, "wb") as fh:  # sparse: no disk, but over the size limit
        fh.truncate((MAX_UPLOAD_MB + 1) * 1024 * 1024)
    out = tmp_path / "out"
    began = time.monotonic()
    run = backend("reconstruct", str(fifo), str(zero), str(big), str(good), "-o", str(out),
                  "--resolution", "32", "--predictor", "baseline", timeout=120)
    assert time.monotonic() - began < 100
    assert run.returncode == 1, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["disc"]
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert any("x.png" in ln and "FIFO" in ln for ln in lines), lines
    assert any("zero.png" in ln and "character device" in ln for ln in lines), lines
    assert any("big.png" in ln and f"{MAX_UPLOAD_MB} MiB" in ln for ln in lines), lines
    assert "1 of 4 reconstructed" in run.stdout


def test_read_image_file_checks_type_and_size_before_reading(tmp_path):
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(BackendError, match="a folder"):
        read_image_file(folder, 1024)
    small = tmp_path / "small.png"
    small.write_bytes(b"x" * 2048)
    with pytest.raises(BackendError) as info:
        read_image_file(small, 1024)
    assert info.value.code == "too_large"
    assert read_image_file(small, 4096) == b"x" * 2048


# -- the output folder, before any work --------------------------------------------------------


@pytest.mark.slow  # runs the command line
@pytest.mark.parametrize("where", ["a-file", "/dev/null", "/proc/slice3d-out"])
def test_a_bad_output_path_fails_before_any_work(tmp_path, where):
    image = tmp_path / "disc.png"
    image.write_bytes(cutout_png())
    target = tmp_path / where if where == "a-file" else where
    if where == "a-file":
        (tmp_path / "a-file").write_text("mine")
    run = backend("reconstruct", str(image), "-o", str(target), "--resolution", "32",
                  "--predictor", "baseline", timeout=120)
    assert run.returncode == 2, run.stderr
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and str(target) in lines[0], lines
    assert "reconstructed" not in run.stdout and "disc.png:" not in run.stderr  # no work began
    if where == "a-file":
        assert (tmp_path / "a-file").read_text() == "mine"


# -- messages that say what is wrong -----------------------------------------------------------


def float_tiff(values: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(values.astype(np.float32), "F").save(buf, "TIFF")
    return buf.getvalue()


def test_a_float_tiff_with_inf_pixels_is_named_as_such():
    values = np.zeros((64, 64), np.float32)
    values[16:48, 16:48] = 0.8
    values[0, 0] = np.inf
    with pytest.raises(BackendError) as info:
        load_image(float_tiff(values))
    assert info.value.code == "bad_image"
    assert "inf" in info.value.message and "1 pixel" in info.value.message
    values[0, 0] = 0.5
    assert load_image(float_tiff(values)).rgba[32, 32, 0] == 204  # a finite one still loads


def png_with_ztxt(size_mb: float) -> bytes:
    """A valid PNG whose zTXt chunk inflates to size_mb MiB (compressed, it is tiny)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("notes", "x" * int(size_mb * 1024 * 1024), zip=True)
    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 120, np.uint8)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def test_a_png_with_a_large_text_chunk_is_not_called_corrupt():
    loaded = load_image(png_with_ztxt(4))  # over Pillow's own 1 MiB default
    assert loaded.rgba.shape == (64, 64, 4)
    with pytest.raises(BackendError) as info:
        load_image(png_with_ztxt(40))
    assert info.value.message != CORRUPT_MESSAGE and "text metadata" in info.value.message
    assert len(zlib.compress(b"x" * 1024)) < 1024  # (the chunk really was compressed)


# -- cancellation within a bounded time --------------------------------------------------------


class SlowSdf:
    """A sphere whose every point costs 20 us: 65,536 points (the old fixed chunk) take 1.3 s."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, pts):
        self.sizes.append(pts.shape[0])
        time.sleep(pts.shape[0] * 20e-6)
        return pts.norm(dim=-1) - 0.3


def test_cancel_is_honoured_within_half_a_second_of_work(cpu):
    sdf = SlowSdf()
    flag = threading.Event()
    set_at: list[float] = []

    def cancel_now() -> None:
        set_at.append(time.monotonic())
        flag.set()

    timer = threading.Timer(0.8, cancel_now)
    timer.start()
    with pytest.raises(Cancelled):
        evaluate_coarse_to_fine(sdf, 64, cpu, cancel=flag.is_set)
    lag = time.monotonic() - set_at[0]
    timer.join()
    assert lag < 0.5, f"cancelled {lag:.2f} s after it was asked"
    assert max(sdf.sizes) * 20e-6 < 0.5, sdf.sizes  # no chunk longer than about 0.25 s of work


def test_chunk_sizes_keep_the_networks_batches():
    """Chunks are multiples of the network's 2048-point batch, so the grid values are exactly
    those of fixed 65,536-point chunks (the demo mesh is unchanged)."""
    for points, seconds in [(2048, 1e-4), (2048, 10.0), (65536, 0.26), (4096, 0.03)]:
        size = next_chunk_size(points, seconds)
        assert MIN_CHUNK <= size <= CHUNK and size % MIN_CHUNK == 0
    assert next_chunk_size(2048, 10.0) == MIN_CHUNK and next_chunk_size(2048, 1e-4) == CHUNK
