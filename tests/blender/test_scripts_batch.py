"""scripts/batch.py through the bpy module: good inputs are written, bad ones fail the exit code."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from bl_harness import BLENDER_PY, EXAMPLE, ROOT, blender_env, run_blender


@pytest.fixture(scope="module")
def batch(tmp_path_factory, profile):
    """Run the batch on a folder with one good and one bad image, plus a missing file."""
    work = tmp_path_factory.mktemp("batch")
    inputs = work / "in"
    inputs.mkdir()
    shutil.copy(EXAMPLE, inputs / "apple.jpg")
    (inputs / "broken.png").write_bytes(b"this is not a picture")
    (inputs / "notes.txt").write_text("ignored: not an image extension")
    out, blend = work / "out", work / "all.blend"
    # A fresh profile without the extension: the script loads this source tree itself.
    env = blender_env(work / "empty-profile")
    if sys.executable == BLENDER_PY:
        env.pop("SLICE3D_PYTHON")  # under the bpy module it defaults to its own interpreter
    proc = subprocess.run([BLENDER_PY, str(ROOT / "scripts" / "batch.py"), "--input",
                           str(inputs), str(work / "missing.jpg"), "--output", str(out),
                           "--blend", str(blend), "--resolution", "64",
                           "--predictor", os.environ.get("SLICE3D_TEST_PREDICTOR", "auto")],
                          capture_output=True, text=True, timeout=400, env=env, cwd=str(work))
    return {"proc": proc, "out": out, "blend": blend, "work": work}


def test_exit_code_is_non_zero_on_a_bad_input(batch):
    assert batch["proc"].returncode == 1, batch["proc"].stdout + batch["proc"].stderr


def test_good_inputs_are_still_written(batch):
    bundle = batch["out"] / "apple"
    assert (bundle / "mesh.glb").is_file() and (bundle / "result.json").is_file()
    assert len(os.listdir(bundle / "slices")) == 12
    assert json.loads((bundle / "result.json").read_text())["mesh"]["faces"] > 0
    assert sorted(os.listdir(batch["out"])) == ["apple"]


def test_summary_line_names_the_failures(batch):
    lines = batch["proc"].stdout.strip().splitlines()
    assert lines[-1].startswith("Slice3D batch: 1 ok, 2 failed of 3 images")
    failed = [ln for ln in lines if " FAIL " in ln]
    assert any("broken.png" in ln and "not an image" in ln for ln in failed)
    assert any("missing.jpg" in ln for ln in failed)


def test_blend_holds_the_imported_result(batch, profile):
    assert batch["blend"].is_file()
    result = run_blender(profile, "open_blend", {"blend": str(batch["blend"])})
    assert result["collections"] == ["Slice3D apple"]
    assert result["planes"] == 12


def test_rerun_replaces_and_same_stems_get_suffixes(batch):
    """Run again into the same folder with two inputs that share a stem."""
    work, out = batch["work"], batch["out"]
    for sub in ("a", "b"):
        (work / sub).mkdir()
        shutil.copy(EXAMPLE, work / sub / "apple.jpg")
    env = blender_env(work / "empty-profile")
    proc = subprocess.run([BLENDER_PY, str(ROOT / "scripts" / "batch.py"), "--input",
                           str(work / "a" / "apple.jpg"), str(work / "b" / "apple.jpg"),
                           "--output", str(out), "--resolution", "64", "--predictor",
                           os.environ.get("SLICE3D_TEST_PREDICTOR", "auto"),
                           "--flip-average", "off", "--silhouette-fill", "off"],
                          capture_output=True, text=True, timeout=400, env=env, cwd=str(work))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(os.listdir(out)) == ["apple", "apple-2"]
    for stem in ("apple", "apple-2"):  # the batch script's option reached the backend
        options = json.loads((out / stem / "result.json").read_text())["options"]
        assert options["flip_average"] == "off" and options["silhouette_fill"] == "off"
    assert proc.stdout.strip().splitlines()[-1].startswith("Slice3D batch: 2 ok, 0 failed of 2")


def _batch_cmd(*args: str) -> list[str]:
    return [BLENDER_PY, str(ROOT / "scripts" / "batch.py"), *args, "--predictor",
            os.environ.get("SLICE3D_TEST_PREDICTOR", "auto")]


def test_a_users_folder_survives_and_no_temp_folder_is_left(tmp_path):
    """Issue 32: OUT/wheel/ holding my_notes.txt and photos/holiday.jpg was replaced by the
    bundle; every run left an empty blender_* folder in the temp dir."""
    wheel = tmp_path / "OUT" / "wheel"
    (wheel / "photos").mkdir(parents=True)
    (wheel / "my_notes.txt").write_text("my notes")
    (wheel / "photos" / "holiday.jpg").write_bytes(b"holiday")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = blender_env(tmp_path / "empty-profile", TMPDIR=str(tmp))
    env.pop("SLICE3D_PYTHON")
    proc = subprocess.run(_batch_cmd("--input", str(ROOT / "examples" / "wheel.png"),
                                     "--output", str(tmp_path / "OUT"), "--resolution", "32"),
                          capture_output=True, text=True, timeout=400, env=env,
                          cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert (wheel / "my_notes.txt").read_text() == "my notes"
    assert (wheel / "photos" / "holiday.jpg").read_bytes() == b"holiday"
    assert sorted(p.name for p in wheel.iterdir()) == ["my_notes.txt", "photos"]
    assert sorted(p.name for p in (tmp_path / "OUT").iterdir()) == ["wheel"]
    fail = [ln for ln in proc.stdout.splitlines() if " FAIL " in ln]
    assert len(fail) == 1 and f"{wheel} exists and is not a Slice3D bundle" in fail[0], out
    assert [p.name for p in tmp.iterdir() if p.name.startswith("blender_")] == []


def test_ctrl_c_prints_one_line(tmp_path):
    """Issue 32: Ctrl+C printed a full traceback."""
    user = tmp_path / "user"
    env = blender_env(tmp_path / "empty-profile", SLICE3D_USER_DIR=str(user))
    env.pop("SLICE3D_PYTHON")
    proc = subprocess.Popen(_batch_cmd("--input", str(EXAMPLE), "--output",
                                       str(tmp_path / "OUT"), "--resolution", "256"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=str(tmp_path))
    try:
        state = user / "backend" / "state.json"
        deadline = time.time() + 240
        while not state.is_file() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert state.is_file(), proc.communicate(timeout=60)
        pid = json.loads(state.read_text())["pid"]
        time.sleep(1.0)  # the job is submitted and runs
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = stdout + stderr
    assert proc.returncode == 130, text
    assert "Traceback" not in text
    assert [ln for ln in text.splitlines() if ln.strip()] == [
        "Slice3D batch: interrupted (Ctrl+C); the running job was cancelled"], text
    deadline = time.time() + 20
    while _alive(pid) and time.time() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)  # the backend it started was stopped


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[:1] != ["Z"]
    except FileNotFoundError:
        return False


def test_object_folders_that_cannot_be_read_fail_in_words(tmp_path):
    """Issue 35: a folder with a views.json is one object; a bad one fails with its reason."""
    root = tmp_path / "objects"
    for name, spec in (("mug", '{"views": ["front.jpg", "back.jpg"]}'),
                       ("cup", '{"views": ["front.jpg", "side.jpg"], "azimuths": [30, 90]}'),
                       ("pot", "{broken")):
        (root / name).mkdir(parents=True)
        shutil.copy(EXAMPLE, root / name / "front.jpg")
        shutil.copy(EXAMPLE, root / name / "side.jpg")
        (root / name / "views.json").write_text(spec)
    user = tmp_path / "user"
    env = blender_env(tmp_path / "empty-profile", SLICE3D_USER_DIR=str(user))
    proc = subprocess.run(_batch_cmd("--input", str(root), "--output", str(tmp_path / "OUT")),
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    fail = sorted(ln.split(" FAIL ")[1] for ln in proc.stdout.splitlines() if " FAIL " in ln)
    assert len(fail) == 3, out
    assert fail[0].startswith(f"{root / 'cup'}: ") and "azimuth must be 0" in fail[0]
    assert fail[1].startswith(f"{root / 'mug'}: ") and "lists back.jpg, which is not" in fail[1]
    assert fail[2].startswith(f"{root / 'pot'}: ") and "not valid JSON" in fail[2]
    assert proc.stdout.strip().splitlines()[-1].startswith("Slice3D batch: 0 ok, 3 failed of 3")


def test_an_object_folder_is_one_reconstruction_from_all_its_photos(tmp_path, profile):
    """Issue 35: OUT/<folder name>/ from every photo views.json lists, with its poses; the .blend
    holds one mesh and a camera per photo."""
    mug = tmp_path / "in" / "mug.v2"
    mug.mkdir(parents=True)
    shutil.copy(EXAMPLE, mug / "front.jpg")
    shutil.copy(EXAMPLE, mug / "back.jpg")
    (mug / "views.json").write_text(
        '{"views": ["front.jpg", "back.jpg"], "azimuths": [0, 180], "elevations": [10, 10]}')
    shutil.copy(EXAMPLE, tmp_path / "in" / "apple.jpg")
    blend = tmp_path / "all.blend"
    env = blender_env(tmp_path / "empty-profile")
    env.pop("SLICE3D_PYTHON")
    proc = subprocess.run(_batch_cmd("--input", str(tmp_path / "in"), "--output",
                                     str(tmp_path / "OUT"), "--resolution", "32",
                                     "--blend", str(blend)),
                          capture_output=True, text=True, timeout=400, env=env,
                          cwd=str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert sorted(p.name for p in (tmp_path / "OUT").iterdir()) == ["apple", "mug.v2"]
    result = json.loads((tmp_path / "OUT" / "mug.v2" / "result.json").read_text())
    assert [(v["azimuth"], v["elevation"], v["used"]) for v in result["views"]] == [
        (0, 10, True), (180, 10, True)]
    assert len(json.loads((tmp_path / "OUT" / "apple" / "result.json").read_text())["views"]) == 1
    assert proc.stdout.strip().splitlines()[-1].startswith("Slice3D batch: 2 ok, 0 failed of 2")
    opened = run_blender(profile, "open_blend", {"blend": str(blend)})
    assert opened["collections"] == ["Slice3D apple", "Slice3D mug"]
    assert opened["cameras"]["Slice3D mug"] == ["mug Camera", "mug Camera 2"]
