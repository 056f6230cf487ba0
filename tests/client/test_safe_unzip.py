"""Result bundles from zips: nothing escapes the folder, the bundle is found inside."""

from __future__ import annotations

import os
import zipfile

import pytest

from client.safe_unzip import bundle_folder, safe_extract


def make_zip(path, members: dict[str, bytes]) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return str(path)


def test_a_member_outside_the_folder_is_refused(tmp_path):
    path = make_zip(tmp_path / "evil.zip", {"result.json": b"{}", "../escape.txt": b"x"})
    with zipfile.ZipFile(path) as zf, pytest.raises(ValueError, match="Unsafe path"):
        safe_extract(zf, str(tmp_path / "out"))
    assert not (tmp_path / "escape.txt").exists()


def test_members_are_extracted(tmp_path):
    path = make_zip(tmp_path / "ok.zip", {"result.json": b"{}", "slices/Z1.png": b"png"})
    with zipfile.ZipFile(path) as zf:
        safe_extract(zf, str(tmp_path / "out"))
    assert (tmp_path / "out" / "slices" / "Z1.png").read_bytes() == b"png"


def test_a_folder_and_a_file_in_it(tmp_path):
    (tmp_path / "result.json").write_text("{}")
    assert bundle_folder(str(tmp_path)) == (str(tmp_path), "")
    assert bundle_folder(str(tmp_path / "result.json")) == (str(tmp_path), "")


@pytest.mark.parametrize("inner", ["", "apple/"])
def test_a_zip_at_its_top_or_of_one_folder(tmp_path, inner):
    path = make_zip(tmp_path / "b.zip", {f"{inner}result.json": b"{}"})
    folder, tmp = bundle_folder(path)
    try:
        assert os.path.isfile(os.path.join(folder, "result.json"))
        assert folder.startswith(tmp) and os.path.basename(tmp).startswith("slice3d-bundle-")
    finally:
        import shutil

        shutil.rmtree(tmp)


def test_a_zip_without_a_bundle_leaves_no_folder(tmp_path):
    import glob
    import tempfile

    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "slice3d-bundle-*")))
    path = make_zip(tmp_path / "n.zip", {"slices/Z1.png": b"png"})
    with pytest.raises(ValueError, match="no result.json"):
        bundle_folder(path)
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "slice3d-bundle-*"))) == before


def test_a_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        bundle_folder(str(tmp_path / "nothing-here"))
