"""backend.bundle: exactly the DESIGN files, written whole or not at all."""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from backend_test_support import cutout_png
from PIL import Image

from backend.bundle import MARKER_NAME, glb_image, write_bundle, zip_bundle
from backend.errors import BackendError
from backend.geometry import MODEL_INPUT_SIZE, SLICE_NAMES
from backend.options import ReconstructOptions
from backend.pipeline import Reconstructor

DESIGN_FILES = ({"mesh.glb", "texture.png", "input.png", "result.json"}
                | {f"slices/{n}.png" for n in SLICE_NAMES})
FOLDER_FILES = DESIGN_FILES | {MARKER_NAME}  # a bundle folder also carries the marker; its zip not
RESULT_KEYS = {"version", "model", "model_kind", "weights_sha256", "device", "source", "timings_s",
               "camera", "slices", "mesh", "sdf", "warnings"}


def files_in(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> tuple[Path, dict]:
    """A real bundle from the pipeline (baseline predictor, 32^3: fast)."""
    out = tmp_path_factory.mktemp("bundle") / "disc"
    options = ReconstructOptions(resolution=32, predictor="baseline", name="disc.png")
    result = Reconstructor(torch.device("cpu")).run(cutout_png(), options, out)
    return out, result


def parts(size: int = MODEL_INPUT_SIZE):
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    slices = np.zeros((12, size, size, 4), dtype=np.uint8)
    model_input = np.full((size, size, 4), 255, dtype=np.uint8)
    return mesh, slices, model_input


def test_exactly_the_design_files(bundle):
    folder, _ = bundle
    assert files_in(folder) == FOLDER_FILES
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_result_json(bundle):
    folder, returned = bundle
    result = json.loads((folder / "result.json").read_text())
    assert set(result) >= RESULT_KEYS
    assert result["model_kind"] == "baseline" and "baseline" in result["model"]
    assert result["source"] == "disc.png"
    assert result["camera"] == {"lens_mm": 35.0, "sensor_mm": 32.0, "distance": 1.2}
    assert result["sdf"] is None and isinstance(result["warnings"], list)
    assert [s["name"] for s in result["slices"]] == list(SLICE_NAMES)
    for i, s in enumerate(result["slices"]):
        assert set(s) == {"name", "axis", "index", "plane_min", "plane_max"}
        assert s["axis"] == "XYZ"[i // 4] and s["index"] == i % 4
        assert s["plane_min"] < s["plane_max"]
    mesh = trimesh.load(folder / "mesh.glb", force="mesh")
    assert result["mesh"]["vertices"] == len(mesh.vertices) > 0
    assert result["mesh"]["faces"] == len(mesh.faces) > 0
    assert isinstance(result["mesh"]["watertight"], bool)
    # The texture's colours come from the picture: the orange disc (230, 120, 30), front and
    # back alike (its median colour is its only colour).
    assert result["texture"] == {"file": "texture.png", "size": 1024}
    colours = np.asarray(mesh.visual.to_color().vertex_colors, dtype=float)
    np.testing.assert_allclose(colours.mean(axis=0), [230, 120, 30, 255], atol=15)
    for stage in ("decode", "mask", "frame", "predict", "sdf", "mesh", "cleanup", "total"):
        assert result["timings_s"][stage] >= 0
    assert result["slices"] == returned["slices"]


def test_slabs_cover_the_mesh(bundle):
    """plane_min/plane_max are view-frame bounds: the mesh lies within each axis' span."""
    folder, result = bundle
    mesh = trimesh.load(folder / "mesh.glb", force="mesh")
    for axis in range(3):
        group = result["slices"][4 * axis : 4 * axis + 4]
        lo = min(s["plane_min"] for s in group)
        hi = max(s["plane_max"] for s in group)
        span = hi - lo
        assert mesh.vertices[:, axis].min() >= lo - 0.1 * span
        assert mesh.vertices[:, axis].max() <= hi + 0.1 * span


def test_images_are_rgba_at_model_resolution(bundle):
    folder, _ = bundle
    for rel in ["input.png"] + [f"slices/{n}.png" for n in SLICE_NAMES]:
        with Image.open(folder / rel) as img:
            assert img.mode == "RGBA" and img.size == (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE), rel
    with Image.open(folder / "slices" / "X1.png") as img:
        assert np.asarray(img)[..., 3].any()  # a slice of a real object shows something


def test_keep_sdf_writes_float16_grid(tmp_path):
    out = tmp_path / "with_sdf"
    options = ReconstructOptions(resolution=32, predictor="baseline", keep_sdf=True)
    result = Reconstructor(torch.device("cpu")).run(cutout_png(), options, out)
    assert files_in(out) == FOLDER_FILES | {"sdf.npy"}
    grid = np.load(out / "sdf.npy")
    assert grid.dtype == np.float16 and grid.shape == (33, 33, 33)
    assert result["sdf"]["file"] == "sdf.npy" and result["sdf"]["resolution"] == 32
    lo, hi = result["sdf"]["bounds"]
    assert lo < -0.5 and hi > 0.5
    assert grid.min() < 0 < grid.max()


def test_vertex_colors_option_writes_no_texture(tmp_path):
    """vertex_colors: the old look, colours on the vertices and no texture.png."""
    out = tmp_path / "coloured"
    options = ReconstructOptions(resolution=32, predictor="baseline", vertex_colors=True)
    result = Reconstructor(torch.device("cpu")).run(cutout_png(), options, out)
    assert files_in(out) == FOLDER_FILES - {"texture.png"}
    assert result["texture"] is None and result["warnings"] == []
    mesh = trimesh.load(out / "mesh.glb", force="mesh")
    colours = np.asarray(mesh.visual.vertex_colors, dtype=float)
    np.testing.assert_allclose(colours.mean(axis=0), [230, 120, 30, 255], atol=15)


def test_zip_has_files_at_the_root(bundle):
    folder, _ = bundle
    with zipfile.ZipFile(io.BytesIO(zip_bundle(folder))) as zf:
        assert set(zf.namelist()) == DESIGN_FILES
        assert json.loads(zf.read("result.json"))["source"] == "disc.png"


def test_failure_midway_leaves_nothing(tmp_path):
    mesh, slices, model_input = parts()
    with pytest.raises(ValueError):  # 11 slices: zip(strict=True) fails after mesh.glb is written
        write_bundle(tmp_path / "b", mesh, slices[:11], model_input, {"version": "x"})
    assert list(tmp_path.iterdir()) == []


def test_failure_leaves_an_existing_bundle_untouched(tmp_path):
    mesh, slices, model_input = parts()
    out = write_bundle(tmp_path / "b", mesh, slices, model_input, {"run": 1})
    before = {rel: (out / rel).read_bytes() for rel in files_in(out)}
    with pytest.raises(ValueError):
        write_bundle(out, mesh, slices[:11], model_input, {"run": 2})
    assert {rel: (out / rel).read_bytes() for rel in files_in(out)} == before
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_rewrite_replaces_whole(tmp_path):
    mesh, slices, model_input = parts()
    out = write_bundle(tmp_path / "b", mesh, slices, model_input, {"run": 1},
                       sdf=np.zeros((3, 3, 3)))
    write_bundle(out, mesh, slices, model_input, {"run": 2})
    assert json.loads((out / "result.json").read_text()) == {"run": 2}
    assert not (out / "sdf.npy").exists()  # nothing of the old bundle survives
    assert [p.name for p in tmp_path.iterdir()] == ["b"]


def test_timings_match_the_returned_result(bundle):
    """The caller (the job's GET /jobs/{id}) reports the same timings as result.json."""
    folder, returned = bundle
    assert json.loads((folder / "result.json").read_text())["timings_s"] == returned["timings_s"]


def test_a_real_bundle_is_rewritten_in_place(tmp_path):
    """A re-run over the previous output (sdf.npy and all) replaces it, with nothing left over."""
    reconstructor = Reconstructor(torch.device("cpu"))
    out = tmp_path / "disc"
    reconstructor.run(cutout_png(), ReconstructOptions(resolution=32, predictor="baseline",
                                                       keep_sdf=True), out)
    reconstructor.run(cutout_png(), ReconstructOptions(resolution=32, predictor="baseline"), out)
    assert files_in(out) == FOLDER_FILES
    assert [p.name for p in tmp_path.iterdir()] == ["disc"]


NOT_BUNDLES = {  # what may sit at a bundle's path and is someone's, not ours (None: a file)
    "plain-file": None,
    "empty": {},
    "no-result": {"mesh.glb": "mine"},
    "extra-file": {"result.json": "{}", "letter.txt": "mine"},
    "extra-in-slices": {"result.json": "{}", "slices/holiday.png": "mine"},
    "extra-folder": {"result.json": "{}", "photos/": ""},
}


def snapshot(folder: Path) -> dict[str, bytes | None]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() if p.is_file() else None
            for p in folder.rglob("*")}


@pytest.mark.parametrize("name", list(NOT_BUNDLES))
def test_what_is_not_a_bundle_is_never_replaced(tmp_path, name):
    out = tmp_path / name
    if NOT_BUNDLES[name] is None:
        out.write_text("mine")
    else:
        out.mkdir()
        for rel, text in NOT_BUNDLES[name].items():
            (out / rel).parent.mkdir(exist_ok=True)
            if rel.endswith("/"):
                (out / rel).mkdir()
            else:
                (out / rel).write_text(text)
    before = snapshot(tmp_path)
    with pytest.raises(BackendError) as info:
        write_bundle(out, *parts(), {"run": 1})
    assert info.value.code == "output_exists" and "not a Slice3D bundle" in info.value.message
    assert snapshot(tmp_path) == before


def test_rewrite_leaves_other_hidden_folders_alone(tmp_path):
    """The old bundle goes aside under a fresh name, not a fixed `.b.old` someone may own."""
    mesh, slices, model_input = parts()
    out = write_bundle(tmp_path / "b", mesh, slices, model_input, {"run": 1})
    (tmp_path / ".b.old").mkdir()
    (tmp_path / ".b.old" / "letter.txt").write_text("mine")
    write_bundle(out, mesh, slices, model_input, {"run": 2})
    assert (tmp_path / ".b.old" / "letter.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".b.old", "b"]


def test_bundle_folder_has_normal_permissions(tmp_path):
    """The folder used to keep mkdtemp's 0700 while slices/ inside it had 0755."""
    old_umask = os.umask(0o022)
    try:
        out = write_bundle(tmp_path / "b", *parts(), {"run": 1})
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "slices").stat().st_mode) == 0o755


def test_texture_png_is_the_glb_texture(bundle):
    """texture.png is the glb's own base-colour image, byte for byte (taken, not re-encoded),
    and it decodes to the colours the material carries."""
    folder, _ = bundle
    glb = (folder / "mesh.glb").read_bytes()
    png = (folder / "texture.png").read_bytes()
    assert glb_image(glb) == png and png.startswith(b"\x89PNG")
    mesh = trimesh.load(folder / "mesh.glb", force="mesh")
    carried = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"))
    with Image.open(io.BytesIO(png)) as img:
        assert img.mode == "RGB" and img.size == (1024, 1024)
        np.testing.assert_array_equal(np.asarray(img), carried)


def test_glb_image_without_a_texture():
    """A glb of a mesh with vertex colours holds no image: None, and texture.png is encoded."""
    mesh, _, _ = parts()
    mesh.visual.vertex_colors = [200, 30, 30, 255]
    assert glb_image(mesh.export(file_type="glb")) is None
    assert glb_image(b"not a glb at all, twenty bytes or more") is None
    assert glb_image(b"glTF") is None


def test_texture_written_beside_a_mesh_without_one(tmp_path):
    """A texture array with an untextured mesh: texture.png is still the array, encoded here."""
    mesh, slices, model_input = parts()
    texture = np.zeros((8, 8, 3), np.uint8)
    texture[2:5, 3:7] = (10, 200, 90)
    out = write_bundle(tmp_path / "b", mesh, slices, model_input, {"run": 1}, texture=texture)
    with Image.open(out / "texture.png") as img:
        np.testing.assert_array_equal(np.asarray(img), texture)
