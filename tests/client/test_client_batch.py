"""The plain parts of a batch: inputs from folders, one bundle folder per input."""

from __future__ import annotations

import re

import pytest

from client.batch import (
    bundle_dir_for,
    collect_inputs,
    keep_bundle,
    read_object_folder,
    source_stem,
)
from client.bundle_safety import NotOurFolder, copy_bundle, is_bundle
from client.views import Poses, ViewsError


def test_folders_give_their_images_sorted_and_files_stay(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    missing = str(tmp_path / "missing.jpg")
    assert collect_inputs([str(tmp_path), missing]) == [
        str(tmp_path / "a.JPG"), str(tmp_path / "b.png"), missing]


def test_same_stems_get_suffixes(tmp_path):
    taken: set[str] = set()
    names = [bundle_dir_for(str(tmp_path), "apple", taken) for _ in range(3)]
    assert [n.rsplit("/", 1)[-1] for n in names] == ["apple", "apple-2", "apple-3"]


def _download(tmp_path):
    src = tmp_path / "download"
    (src / "slices").mkdir(parents=True)
    (src / "result.json").write_text("{}")
    (src / "mesh.glb").write_bytes(b"glb")
    (src / "slices" / "Z1.png").write_bytes(b"png")
    return src


def test_keep_bundle_replaces_an_earlier_run(tmp_path):
    src = _download(tmp_path)
    out = tmp_path / "out"
    first = keep_bundle(str(src), str(out), "/pictures/apple.jpg", set())
    assert is_bundle(first)  # marked as ours
    (src / "input.png").write_bytes(b"new")
    kept = keep_bundle(str(src), str(out), "/pictures/apple.jpg", set())
    assert kept == str(out / "apple")
    assert sorted(p.name for p in (out / "apple").iterdir()) == [
        ".slice3d-bundle", "input.png", "mesh.glb", "result.json", "slices"]
    assert sorted(p.name for p in out.iterdir()) == ["apple"]  # no staging left


def test_keep_bundle_never_replaces_a_users_folder(tmp_path):
    """Issue 32: OUT/wheel/ holding my_notes.txt and photos/holiday.jpg was replaced whole."""
    src = _download(tmp_path)
    wheel = tmp_path / "out" / "wheel"
    (wheel / "photos").mkdir(parents=True)
    (wheel / "my_notes.txt").write_text("mine")
    (wheel / "photos" / "holiday.jpg").write_bytes(b"jpg")
    with pytest.raises(NotOurFolder) as err:
        keep_bundle(str(src), str(tmp_path / "out"), "/pictures/wheel.png", set())
    assert str(wheel) in str(err.value)
    assert (wheel / "my_notes.txt").read_text() == "mine"
    assert (wheel / "photos" / "holiday.jpg").read_bytes() == b"jpg"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["wheel"]


def test_a_folder_that_only_looks_like_a_bundle_is_not_ours(tmp_path):
    src = _download(tmp_path)
    look = tmp_path / "out" / "wheel"
    look.mkdir(parents=True)
    (look / "result.json").write_text("{}")
    (look / "mesh.obj").write_text("v 0 0 0")
    assert not is_bundle(str(look))
    (look / ".slice3d-bundle").write_text("slice3d-bundle 1\n")
    assert is_bundle(str(look))  # the marker and bundle files only
    (look / "notes.txt").write_text("mine")
    assert not is_bundle(str(look))
    with pytest.raises(NotOurFolder):
        copy_bundle(str(src), str(look))
    assert (look / "notes.txt").read_text() == "mine"


def test_odd_stems_are_refused(tmp_path):
    src = _download(tmp_path)
    with pytest.raises(ValueError):
        keep_bundle(str(src), str(tmp_path / "out"), "/pictures/..", set())


def _object_folder(root, name: str, spec: str, photos=("front.jpg", "side.jpg")):
    folder = root / name
    folder.mkdir()
    for photo in photos:
        (folder / photo).write_bytes(b"")
    (folder / "views.json").write_text(spec)
    return folder


def test_an_object_folder_is_one_input_beside_the_images(tmp_path):
    (tmp_path / "single.png").write_bytes(b"")
    mug = _object_folder(tmp_path, "mug", '{"views": ["front.jpg", "side.jpg"]}')
    (tmp_path / "plain").mkdir()  # a folder without views.json is not an input
    assert collect_inputs([str(tmp_path)]) == [str(mug), str(tmp_path / "single.png")]
    assert collect_inputs([str(mug)]) == [str(mug)]  # given itself: the object, not its photos


def test_an_object_folder_lists_its_photos_and_poses(tmp_path):
    mug = _object_folder(tmp_path, "mug.v2", '{"views": ["side.jpg", "front.jpg"], '
                         '"azimuths": [0, -90], "elevations": [20, 25.5]}')
    photos = read_object_folder(str(mug))
    assert photos.paths == (str(mug / "side.jpg"), str(mug / "front.jpg"))
    assert photos.poses == Poses((0.0, -90.0), (20.0, 25.5))
    assert source_stem(str(mug)) == "mug.v2" and source_stem("/a/apple.jpg") == "apple"


def test_without_a_list_the_folders_images_in_name_order(tmp_path):
    mug = _object_folder(tmp_path, "mug", '{"azimuths": [0, 90]}', photos=("b.png", "a.JPG"))
    (mug / ".hidden.png").write_bytes(b"")
    (mug / "notes.txt").write_text("not a photo")
    assert read_object_folder(str(mug)).paths == (str(mug / "a.JPG"), str(mug / "b.png"))


@pytest.mark.parametrize(("spec", "words"), [
    ("{not json", "views.json is not valid JSON"),
    ('["front.jpg"]', "must be an object with the keys views, azimuths and elevations"),
    ('{"photos": ["front.jpg"]}', "must be an object with the keys"),
    ('{"views": ["front.jpg"]}', "an object takes 2 to 6 photos (found 1)"),
    ('{"views": ["front.jpg", "back.jpg"]}', "lists back.jpg, which is not in the folder"),
    ('{"views": ["../front.jpg", "side.jpg"]}', "file names in this folder"),
    ('{"views": ["front.jpg", "side.jpg"], "azimuths": [0]}', "1 azimuths for 2 photos"),
    ('{"views": ["front.jpg", "side.jpg"], "azimuths": [0, "east"]}', "list of numbers"),
    ('{"views": ["front.jpg", "side.jpg"], "azimuths": [10, 90]}', "must be 0"),
    ('{"views": ' + str(["front.jpg"] * 7).replace("'", '"') + "}", "2 to 6 photos (found 7)"),
])
def test_a_bad_views_file_is_refused_in_words(tmp_path, spec, words):
    (tmp_path / "front.jpg").write_bytes(b"")
    with pytest.raises(ViewsError, match=re.escape(words)):
        read_object_folder(str(_object_folder(tmp_path, "mug", spec)))
