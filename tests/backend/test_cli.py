"""`python -m backend reconstruct|info` as a user runs them: real subprocesses, repo root."""

from __future__ import annotations

import json
import subprocess
import sys

import trimesh
from backend_test_support import APPLE, REPO_ROOT, cutout_png

from backend import __version__
from backend.geometry import SLICE_NAMES


def backend(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout)


def assert_bundle(folder) -> dict:
    assert (folder / "mesh.glb").is_file() and (folder / "input.png").is_file()
    assert sorted(p.stem for p in (folder / "slices").iterdir()) == sorted(SLICE_NAMES)
    mesh = trimesh.load(folder / "mesh.glb", force="mesh")
    assert len(mesh.faces) > 100
    return json.loads((folder / "result.json").read_text())


def test_reconstruct_the_example(tmp_path):
    out = tmp_path / "out"
    run = backend("reconstruct", str(APPLE), "-o", str(out), "--resolution", "64",
                  "--predictor", "baseline", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    result = assert_bundle(out / "apple")
    assert result["source"] == "apple.jpg" and result["options"]["resolution"] == 64
    assert result["mask_method"] == "rembg"
    assert "1 of 1 reconstructed" in run.stdout
    assert "apple.jpg:" in run.stdout and "mesh.glb" in run.stdout
    assert "Traceback" not in run.stderr


def test_a_bad_input_among_good_ones(tmp_path):
    good = tmp_path / "disc.png"
    good.write_bytes(cutout_png())
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"this is not a picture at all")
    tiny = tmp_path / "tiny.png"
    tiny.write_bytes(cutout_png(size=8))
    missing = tmp_path / "missing.png"
    out = tmp_path / "out"
    run = backend("reconstruct", str(broken), str(good), str(tiny), str(missing), "-o", str(out),
                  "--resolution", "32", "--predictor", "baseline")
    assert run.returncode == 1
    assert_bundle(out / "disc")  # the good one, after a bad one, is still written
    assert sorted(p.name for p in out.iterdir()) == ["disc"]
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    assert any("broken.png" in ln and "not an image" in ln for ln in lines), run.stderr
    assert any("tiny.png" in ln and "8x8" in ln for ln in lines), run.stderr
    assert any("missing.png" in ln and "cannot read" in ln for ln in lines), run.stderr
    assert "1 of 4 reconstructed" in run.stdout
    assert "Traceback" not in run.stderr


def test_bad_options_exit_2_with_a_message(tmp_path):
    image = tmp_path / "disc.png"
    image.write_bytes(cutout_png())
    run = backend("reconstruct", str(image), "-o", str(tmp_path / "out"), "--resolution", "100",
                  timeout=120)
    assert run.returncode == 2
    assert "power of two" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out" / "disc").exists()


def test_duplicate_names_are_refused_before_any_work(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "disc.png").write_bytes(cutout_png())
    run = backend("reconstruct", str(tmp_path / "a" / "disc.png"), str(tmp_path / "b" / "disc.png"),
                  "-o", str(tmp_path / "out"), timeout=120)
    assert run.returncode == 2
    assert "disc" in run.stderr and "overwrite" in run.stderr
    assert not (tmp_path / "out").exists()


def test_info_prints_json():
    run = backend("info", timeout=120)
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["version"] == __version__
    assert info["device"] in ("cpu", "cuda")
    assert {"model", "weights", "weights_sha256", "torch"} <= set(info)
    if info["weights"] is None:
        assert "baseline" in info["model"] and info["weights_sha256"] is None
        assert info["inference"] is None
    else:
        assert len(info["weights_sha256"]) == 64
        assert set(info["inference"]) == {"flip_average", "surface_offset", "depth_clip",
                                          "feature_sampling", "silhouette_fill"}


def test_usage_errors():
    run = backend("reconstruct", timeout=60)
    assert run.returncode == 2 and "usage:" in run.stderr
    run = backend("serve", "--token-file", "x", "--max-upload-mb", "0", timeout=60)
    assert run.returncode == 2 and "max-upload-mb" in run.stderr


def test_an_existing_folder_that_is_not_a_bundle_is_left_alone(tmp_path):
    """`reconstruct chair.jpg -o ~` used to replace ~/chair/ whatever it held. A folder that is
    not a Slice3D bundle, or a plain file, fails that image; the others are still written."""
    out = tmp_path / "out"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "result.json").write_text("{}")  # a bundle's name, among someone's files
    (out / "notes" / "letter.txt").write_text("mine")
    (out / "plain").write_text("a file, not a folder")
    images = [tmp_path / f"{stem}.png" for stem in ("notes", "plain", "disc")]
    for image in images:
        image.write_bytes(cutout_png())
    run = backend("reconstruct", *map(str, images), "-o", str(out), "--resolution", "32",
                  "--predictor", "baseline")
    assert run.returncode == 1
    assert (out / "notes" / "letter.txt").read_text() == "mine"
    assert (out / "plain").read_text() == "a file, not a folder"
    assert_bundle(out / "disc")
    assert sorted(p.name for p in out.iterdir()) == ["disc", "notes", "plain"]
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("error:")]
    for stem in ("notes", "plain"):
        assert any(f"{stem}.png" in ln and "not a Slice3D bundle" in ln for ln in lines), lines
    assert "1 of 3 reconstructed" in run.stdout
    assert "Traceback" not in run.stderr


def test_a_long_file_name_does_not_stop_the_batch(tmp_path):
    """A name over the options' 200 characters used to abort the whole run before any image;
    it is only the result's "source", so it is shortened instead."""
    long = tmp_path / ("x" * 230 + ".png")
    good = tmp_path / "disc.png"
    for image in (long, good):
        image.write_bytes(cutout_png())
    out = tmp_path / "out"
    run = backend("reconstruct", str(long), str(good), "-o", str(out), "--resolution", "32",
                  "--predictor", "baseline")
    assert run.returncode == 0, run.stderr
    assert assert_bundle(out / long.stem)["source"] == long.name[:200]
    assert_bundle(out / "disc")
    assert "2 of 2 reconstructed" in run.stdout


# -- several photos of one object (--views, issue 35) --------------------------------------------


def write_views(folder, poses=((0.0, 15.0), (90.0, 15.0), (200.0, 30.0))) -> list:
    from multiview_scene import known_object, photograph
    from PIL import Image

    mesh = known_object()
    paths = []
    for k, (az, el) in enumerate(poses):
        path = folder / f"{['front', 'side', 'back', 'four', 'five', 'six', 'seven'][k]}.png"
        Image.fromarray(photograph(mesh, az, el, size=160, scale=0.9)).save(path)
        paths.append(str(path))
    return paths


def test_reconstruct_views_with_given_poses(tmp_path):
    views = write_views(tmp_path)
    out = tmp_path / "out"
    run = backend("reconstruct", "--views", *views, "--azimuths", "0", "90", "200",
                  "--elevations", "15", "15", "30", "-o", str(out), "--resolution", "32",
                  "--predictor", "baseline", "--device", "cpu")
    assert run.returncode == 0, run.stderr
    result = assert_bundle(out / "front")
    assert [v["source"] for v in result["views"]] == ["front.png", "side.png", "back.png"]
    assert all(v["used"] and v["pose"] == "given" for v in result["views"])
    assert (out / "front" / "views" / "2.png").is_file()
    assert "1 of 1 reconstructed from 3 photos" in run.stdout
    assert "side.png: azimuth 90, elevation 15 (given" in run.stdout
    assert not (out / "side").exists()


def test_bad_view_arguments_exit_2_with_a_message(tmp_path):
    views = write_views(tmp_path, [(0.0, 15.0)] * 7)
    out = str(tmp_path / "out")
    cases = [
        (["--views", *views[:3], "--azimuths", "0", "90"], "one azimuth per photo"),
        (["--views", *views[:2], "--azimuths", "30", "90"], "must be 0"),
        (["--views", *views[:2], "--elevations", "10", "10", "10"], "one elevation per photo"),
        (["--views", *views], "at most 6"),
        ([views[0], "--views", *views[1:3]], "not both"),
        ([views[0], "--azimuths", "0"], "go with --views"),
        ([], "at least one image"),
    ]
    for args, words in cases:
        run = backend("reconstruct", *args, "-o", out, "--predictor", "baseline",
                      "--device", "cpu")
        assert run.returncode == 2, (args, run.stderr)
        assert words in run.stderr and "Traceback" not in run.stderr, (args, run.stderr)


def test_views_with_a_missing_photo_fail_with_exit_1(tmp_path):
    views = write_views(tmp_path, [(0.0, 15.0)])
    run = backend("reconstruct", "--views", views[0], str(tmp_path / "nowhere.png"), "-o",
                  str(tmp_path / "out"), "--predictor", "baseline", "--device", "cpu")
    assert run.returncode == 1
    assert "nowhere.png" in run.stderr and "Traceback" not in run.stderr
