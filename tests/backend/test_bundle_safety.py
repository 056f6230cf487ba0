"""Output safety: only a folder our marker proves ours is replaced, swapped in atomically, and the
staging folders an interrupted write leaves are cleaned the next time (issue 32, items 2, 4, 12)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh
from backend_test_support import REPO_ROOT, cutout_png

from backend.bundle import (
    MARKER_MAGIC,
    MARKER_NAME,
    bundle_path,
    clean_leftovers,
    is_bundle,
    write_bundle,
)
from backend.errors import BackendError


def parts(size: int = 16):
    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.3)
    return mesh, np.zeros((12, size, size, 4), np.uint8), np.full((size, size, 4), 255, np.uint8)


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in folder.rglob("*")}


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


LOOKALIKES = {  # each would have passed the old "bundle file names only" test
    "result-and-mesh": {"result.json": '{"version": "0.1"}', "mesh.obj": "v 0 0 0",
                        "input.png": "x"},
    "wrong-magic": {MARKER_NAME: "slice3d-bundle 2\n", "result.json": "{}"},
    "magic-not-first": {MARKER_NAME: "hello\nslice3d-bundle 1\n", "result.json": "{}"},
    "marker-and-a-letter": {MARKER_NAME: MARKER_MAGIC + "\n", "result.json": "{}",
                            "letter.txt": "mine"},
}


@pytest.mark.parametrize("case", list(LOOKALIKES))
def test_a_folder_that_only_looks_like_a_bundle_is_refused(tmp_path, case):
    out = tmp_path / "wheel"
    out.mkdir()
    for rel, text in LOOKALIKES[case].items():
        (out / rel).write_text(text)
    before = snapshot(tmp_path)
    with pytest.raises(BackendError) as info:
        write_bundle(out, *parts(), {"run": 1})
    assert info.value.code == "output_exists"
    assert str(out) in info.value.message and MARKER_NAME in info.value.message
    assert snapshot(tmp_path) == before


def test_a_marker_that_is_a_link_is_not_ours(tmp_path):
    real = write_bundle(tmp_path / "real", *parts(), {"run": 1})
    out = tmp_path / "wheel"
    out.mkdir()
    (out / "result.json").write_text("{}")
    (out / MARKER_NAME).symlink_to(real / MARKER_NAME)
    assert not is_bundle(out)


def test_our_bundle_carries_the_marker_and_is_replaced(tmp_path):
    out = write_bundle(tmp_path / "wheel", *parts(), {"run": 1})
    assert (out / MARKER_NAME).read_text().splitlines()[0] == MARKER_MAGIC
    assert is_bundle(out)
    write_bundle(out, *parts(), {"run": 2})
    assert (out / "result.json").read_text().count('"run": 2') == 1


def test_the_path_always_holds_a_whole_bundle_while_it_is_rewritten(tmp_path):
    """A reader polling the bundle never finds it missing: the swap is one exchange rename."""
    out = write_bundle(tmp_path / "wheel", *parts(), {"run": 0})
    missing: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if not os.path.exists(out / MARKER_NAME):
                missing.append(1)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for run in range(1, 150):
            write_bundle(out, *parts(), {"run": run})
    finally:
        stop.set()
        watcher.join()
    assert not missing, f"the bundle was missing {len(missing)} times"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wheel"]


WRITER = textwrap.dedent("""
    import sys, numpy as np, trimesh
    from backend.bundle import write_bundle
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    slices = np.zeros((12, 128, 128, 4), np.uint8)
    image = np.full((128, 128, 4), 255, np.uint8)
    print("ready", flush=True)
    run = 0
    while True:
        run += 1
        write_bundle(sys.argv[1], mesh, slices, image, {"run": run})
""")


def test_a_writer_killed_mid_write_leaves_the_bundle_and_its_leftovers_are_cleaned(tmp_path):
    out = tmp_path / "wheel"
    (tmp_path / ".wheel.old").mkdir()  # someone's own hidden folder: not a staging name
    legacy = tmp_path / ".wheel.new-0123456789ab"  # the old naming, from an earlier version
    legacy.mkdir()
    os.utime(legacy, (time.time() - 3600, time.time() - 3600))
    stranger = tmp_path / f".wheel.new-{dead_pid()}-abcdefabcdef"
    stranger.mkdir()
    (stranger / "mesh.glb").write_text("half")
    for attempt in range(4):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(out)], cwd=REPO_ROOT,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(0.6 + 0.37 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        if out.exists():
            assert is_bundle(out)  # never half a bundle, never a vanished one once written
    write_bundle(out, *parts(), {"run": "after"})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".wheel.old", "wheel"]
    assert is_bundle(out)


def test_a_live_writers_staging_folder_is_left_alone(tmp_path):
    out = tmp_path / "wheel"
    live = tmp_path / f".wheel.new-{os.getppid()}-abcdefabcdef"
    live.mkdir()
    assert clean_leftovers(out) == []
    assert live.is_dir()


@pytest.mark.parametrize("stem", ["", ".", "..", "a/b"])
def test_odd_stems_are_refused(tmp_path, stem):
    with pytest.raises(BackendError) as info:
        bundle_path(tmp_path, stem)
    assert info.value.code == "bad_options" and repr(stem) in info.value.message
    with pytest.raises(BackendError):
        write_bundle(tmp_path / "x" / "..", *parts(), {"run": 1})


def test_cli_refuses_the_dot_stems_and_writes_the_rest(tmp_path):
    """`..png` has the stem '.', `...png` the stem '..': the first wrote the bundle as OUT itself,
    the second failed with "Device or resource busy" and left a hidden folder."""
    out = tmp_path / "out"
    images = [tmp_path / name for name in ("..png", "...png", "disc.png")]
    for image in images:
        image.write_bytes(cutout_png())
    run = subprocess.run([sys.executable, "-m", "backend", "reconstruct", *map(str, images),
                          "-o", str(out), "--resolution", "32", "--predictor", "baseline"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["disc"]
    assert is_bundle(out / "disc")
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert any("..png" in ln and "'.'" in ln and "rename the image" in ln for ln in lines), lines
    assert any("...png" in ln and "'..'" in ln for ln in lines), lines
    assert "Traceback" not in run.stderr
