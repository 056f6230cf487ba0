"""`python -m backend batch` in this process (no Ray): the mirrored tree of bundles, the summary,
the resume rule, the clashes refused up front, and the message when Ray is missing."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from backend_test_support import disc_cutout, encode
from PIL import Image

from backend import batch
from backend.bundle import MARKER_NAME, write_marker
from backend.cli import main
from backend.ray_batch import RAY_MISSING

FAST = ["--predictor", "baseline", "--resolution", "32", "--background", "alpha"]


def make_tree(root: Path) -> dict[str, Path]:
    """Good images in every accepted format, in nested folders, plus one that is not an image
    and files the batch must leave out (hidden, not an image)."""
    cutout = Image.fromarray(disc_cutout(64), "RGBA")
    files = {
        "a.png": encode(cutout, "PNG"),
        "sub/b.WEBP": encode(cutout, "WEBP", lossless=True),
        "sub/c.jpg": encode(cutout.convert("RGB"), "JPEG"),  # no alpha: fails under FAST
        "sub/deeper/d.tiff": encode(cutout, "TIFF"),
        "sub/broken.png": b"this is not an image",
        "sub/.hidden.png": encode(cutout, "PNG"),
        "notes.txt": b"not an image",
    }
    paths = {}
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        paths[rel] = path
    return paths


def summary(out: Path) -> dict[str, dict]:
    lines = (out / batch.SUMMARY_NAME).read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert len({r["image"] for r in records}) == len(records), "one record per image"
    return {r["image"]: r for r in records}


def test_a_tree_with_a_faulty_image_then_a_resumed_run(tmp_path, capsys):
    src, out = tmp_path / "in", tmp_path / "out"
    make_tree(src)
    # c.jpg is opaque, so --background alpha has no object to keep: one more expected failure.
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 1
    first = summary(out)
    assert sorted(first) == ["a.png", "sub/b.WEBP", "sub/broken.png", "sub/c.jpg",
                             "sub/deeper/d.tiff"]
    for image, bundle in (("a.png", "a"), ("sub/b.WEBP", "sub/b"), ("sub/deeper/d.tiff",
                                                                    "sub/deeper/d")):
        assert first[image]["status"] == "done" and first[image]["bundle"] == bundle
        assert (out / bundle / "mesh.glb").is_file() and (out / bundle / MARKER_NAME).is_file()
        assert json.loads((out / bundle / "result.json").read_text())["source"] == \
            Path(image).name
    assert first["sub/broken.png"]["status"] == "failed"
    assert "not an image" in first["sub/broken.png"]["message"]
    assert not (out / "sub" / "broken").exists()
    assert "no usable transparency" in first["sub/c.jpg"]["message"]
    err = capsys.readouterr().err
    assert "img/h" in err and "left" in err  # throughput and time left, one line per image
    assert "3 done, 0 skipped, 2 failed in " in err

    # Rerun: the finished bundles are skipped (and said so); the failed ones are tried again.
    mtime = (out / "a" / "result.json").stat().st_mtime_ns
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 1
    second = summary(out)
    assert {i for i, r in second.items() if r["status"] == "skipped"} == \
        {"a.png", "sub/b.WEBP", "sub/deeper/d.tiff"}
    assert {i for i, r in second.items() if r["status"] == "failed"} == \
        {"sub/broken.png", "sub/c.jpg"}
    assert (out / "a" / "result.json").stat().st_mtime_ns == mtime
    assert "3 skipped (finished bundles)" in capsys.readouterr().err

    (src / "sub" / "broken.png").unlink()
    (src / "sub" / "c.jpg").unlink()
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 0
    assert {r["status"] for r in summary(out).values()} == {"skipped"}


def test_resume_redoes_an_unfinished_bundle_and_leaves_a_foreign_folder(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    cutout = encode(Image.fromarray(disc_cutout(64), "RGBA"), "PNG")
    for name in ("cut", "foreign", "done"):
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / f"{name}.png").write_bytes(cutout)
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 0
    # A bundle whose result.json was cut short is ours (marker) but not finished: redone.
    (out / "cut" / "result.json").write_text('{"version": "0"}')
    # A folder without our marker at a bundle's path is never replaced: that image fails.
    for path in sorted((out / "foreign").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (out / "foreign" / "mine.txt").write_text("keep me")
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 1
    records = summary(out)
    assert records["cut.png"]["status"] == "done"
    assert batch.is_finished(out / "cut")
    assert records["done.png"]["status"] == "skipped"
    assert records["foreign.png"]["status"] == "failed"
    assert "not a Slice3D bundle" in records["foreign.png"]["message"]
    assert (out / "foreign" / "mine.txt").read_text() == "keep me"


def test_is_finished_needs_marker_mesh_and_complete_result(tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    result = {key: 1 for key in batch.RESULT_KEYS}
    (folder / "result.json").write_text(json.dumps(result))
    (folder / "mesh.glb").write_bytes(b"glb")
    assert not batch.is_finished(folder)  # no marker: not ours
    write_marker(folder)
    assert batch.is_finished(folder)
    (folder / "result.json").write_text(json.dumps({k: 1 for k in batch.RESULT_KEYS[:-1]}))
    assert not batch.is_finished(folder)
    (folder / "result.json").write_text("{")
    assert not batch.is_finished(folder)


def test_clashing_bundle_folders_are_refused_up_front(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    data = encode(Image.fromarray(disc_cutout(64), "RGBA"), "PNG")
    for rel in ("x.png", "x.jpg", "sub.png", "sub/y.png"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    plan = batch.make_plan(src, out)
    assert [t.image for t in plan.todo] == ["x.jpg", "sub/y.png"]
    refused = {t.image: why for t, why in plan.refused}
    assert "would share the bundle folder x/" in refused["x.png"]
    assert "input folder sub/" in refused["sub.png"]


def test_output_inside_the_input_tree_is_not_read_back(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(encode(Image.fromarray(disc_cutout(64), "RGBA"), "PNG"))
    out = src / "results"
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 0
    assert (out / "a" / "input.png").is_file()
    assert [t.image for t in batch.make_plan(src, out).skipped] == ["a.png"]
    assert batch.make_plan(src, out).todo == []


def test_bad_invocations_exit_2_with_a_message(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    assert main(["batch", str(src / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert main(["batch", str(src), "-o", str(src)]) == 2
    assert "must not be the input folder" in capsys.readouterr().err
    assert main(["batch", str(src), "-o", str(tmp_path / "o"), "--workers", "2"]) == 2
    assert "--workers needs --ray" in capsys.readouterr().err
    assert main(["batch", str(src), "-o", str(tmp_path / "o"), "--resolution", "33"]) == 2


def test_ray_missing_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert main(["batch", str(src), "-o", str(tmp_path / "o"), "--ray", "local"]) == 2
    assert f"error: {RAY_MISSING}" in capsys.readouterr().err
    assert RAY_MISSING == "Ray is not installed: pip install -r requirements/ray.txt"


def test_progress_on_a_terminal_is_a_bar_with_rate_and_time_left():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    progress = batch.Progress(2, stream)
    progress.update({"image": "a.png", "status": "done", "message": None})
    progress.close()
    text = stream.getvalue()
    assert "1/2" in text and "img/h" in text and "<" in text  # tqdm's "elapsed<left"


@pytest.mark.parametrize("name", ["a.PNG", "b.jpeg", "c.Tif", "d.webp"])
def test_image_suffixes_any_case(tmp_path, name):
    (tmp_path / name).write_bytes(b"")
    assert [p.name for p in batch.find_images(tmp_path)] == [name]


def test_a_ray_address_that_no_head_answers_fails_at_once(tmp_path, capsys):
    pytest.importorskip("ray")
    import socket

    src = tmp_path / "in"
    src.mkdir()
    with socket.socket() as s:  # a port that nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["batch", str(src), "-o", str(tmp_path / "o"), "--ray", f"127.0.0.1:{port}"]) == 2
    assert f"No Ray head answers at 127.0.0.1:{port}" in capsys.readouterr().err


# -- a folder per object (views.json, issue 35) --------------------------------------------------


def make_objects(root: Path) -> None:
    """One object with given poses, one whose poses are found (views from the folder's images),
    two broken views.json, a single image beside them, and a clash with an object folder."""
    from multiview_scene import known_object, photograph

    mesh = known_object()
    shots = {az: encode(Image.fromarray(photograph(mesh, az, el, size=160, scale=0.9)), "PNG")
             for az, el in ((0.0, 15.0), (90.0, 15.0), (200.0, 30.0))}
    given = root / "shelf" / "box"
    given.mkdir(parents=True)
    for name, az in (("front.png", 0.0), ("side.png", 90.0), ("back.png", 200.0)):
        (given / name).write_bytes(shots[az])
    (given / "views.json").write_text(json.dumps({
        "views": ["front.png", "side.png", "back.png"], "azimuths": [0, 90, 200],
        "elevations": [15, 15, 30]}))
    found = root / "found"
    found.mkdir()
    (found / "1-front.png").write_bytes(shots[0.0])
    (found / "2-side.png").write_bytes(shots[90.0])
    (found / "views.json").write_text("{}")
    for name, text in (("badjson", "{views: "), ("badcount", json.dumps(
            {"views": ["a.png", "b.png"], "azimuths": [0, 90, 180]})),
            ("missing", json.dumps({"views": ["a.png", "nowhere.png"]}))):
        (root / name).mkdir()
        (root / name / "a.png").write_bytes(shots[0.0])
        (root / name / "b.png").write_bytes(shots[90.0])
        (root / name / "views.json").write_text(text)
    (root / "shelf" / "single.png").write_bytes(shots[0.0])
    (root / "twin.png").write_bytes(shots[0.0])  # its bundle would be the object twin/'s
    (root / "twin").mkdir()
    for name in ("a.png", "b.png"):
        (root / "twin" / name).write_bytes(shots[0.0])
    (root / "twin" / "views.json").write_text("{}")


def test_object_folders_make_one_bundle_each_and_resume(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    make_objects(src)
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 1
    first = summary(out)
    assert first["shelf/single.png"]["status"] == "done"
    assert first["shelf/box/"]["status"] == "done", first["shelf/box/"]
    result = json.loads((out / "shelf" / "box" / "result.json").read_text())
    assert [v["source"] for v in result["views"]] == ["front.png", "side.png", "back.png"]
    assert all(v["pose"] == "given" for v in result["views"])
    assert (out / "shelf" / "box" / "views" / "2.png").is_file()
    assert not (out / "shelf" / "box" / "side").exists()  # the photos are not single images
    assert first["found/"]["status"] == "done"
    views = json.loads((out / "found" / "result.json").read_text())["views"]
    assert [v["source"] for v in views] == ["1-front.png", "2-side.png"]
    assert views[1]["pose"] in ("found", None)
    assert "not readable JSON" in first["badjson/"]["message"]
    assert "one azimuth per photo" in first["badcount/"]["message"]
    assert "nowhere.png" in first["missing/"]["message"]
    assert first["twin.png"]["status"] == "done"
    assert "share the bundle folder" in first["twin/"]["message"]
    assert main(["batch", str(src), "-o", str(out), *FAST]) == 1  # the broken ones again
    second = summary(out)
    assert second["shelf/box/"]["status"] == "skipped" and second["found/"]["status"] == "skipped"


def test_views_json_in_the_input_folder_itself_is_refused(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "views.json").write_text("{}")
    plan = batch.make_plan(src, out)
    assert not plan.todo and "folder of their own" in plan.refused[0][1]
