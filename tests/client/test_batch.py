"""The plain parts of a batch: inputs from folders, one bundle folder per input."""

from __future__ import annotations

from client.batch import bundle_dir_for, collect_inputs, keep_bundle


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


def test_keep_bundle_replaces_an_earlier_run(tmp_path):
    src = tmp_path / "download"
    src.mkdir()
    (src / "result.json").write_text("{}")
    out = tmp_path / "out"
    (out / "apple").mkdir(parents=True)
    (out / "apple" / "old.txt").write_text("old")
    kept = keep_bundle(str(src), str(out), "/pictures/apple.jpg", set())
    assert kept == str(out / "apple")
    assert sorted(p.name for p in (out / "apple").iterdir()) == ["result.json"]
