"""The ``colors`` backfill gives exactly the colours a fresh build writes, for a procedural source
and for a real-mesh source (pooled SDF, whose build draws depend on the evaluated pool); it
skips finished shards and leaves a shard whose SDF does not match alone."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

import training.data.build as build_mod
import training.data.colors_backfill as backfill_mod
from training.data.build import build
from training.data.colors_backfill import backfill
from training.data.mesh import ShapeMesh
from training.data.shards import SPLITS, read_shard, write_arrays
from training.data.sources import get_source
from training.data.sources.real import finish_shape


class BlobSource:
    """A real-mesh stand-in: a coloured, lumpy sphere per id, drawn from the build's stream
    before ``finish_shape`` (as sources that pick textures do)."""

    name = "blob"

    def list_shapes(self, limit: int) -> list[tuple[str, str]]:
        return [(f"blob-{i}", "blob") for i in range(limit)]

    def load(self, shape_id: str, rng: np.random.Generator):
        tm = trimesh.creation.icosphere(3, radius=0.3)
        v = np.asarray(tm.vertices) * rng.uniform(0.7, 1.3, 3)
        colours = rng.random((len(v), 3)).astype(np.float32)
        mesh = ShapeMesh(v, np.asarray(tm.faces), vertex_colors=colours)
        return finish_shape(shape_id, self.name, "blob", mesh, rng)


def _sources(monkeypatch) -> None:
    def pick(name: str):
        return BlobSource() if name == "blob" else get_source(name)

    monkeypatch.setattr(build_mod, "get_source", pick)
    monkeypatch.setattr(backfill_mod, "get_source", pick)


def _strip(out) -> dict:
    """Remove ``colors`` from every shard; returns what the build wrote."""
    built = {}
    for path in sorted(p for s in SPLITS for p in (out / s).glob("*.npz")):
        arrays = read_shard(path)
        built[path] = arrays.pop("colors")
        write_arrays(path, arrays)
    return built


@pytest.mark.parametrize("source", ["procedural", "blob"])
def test_backfill_equals_the_build(tmp_path, monkeypatch, source):
    _sources(monkeypatch)
    build(tmp_path, [source], 3, views=2, workers=1, points=256)
    built = _strip(tmp_path)
    assert built and all(c.shape[1:] == (256, 4) and c.dtype == np.uint8 for c in built.values())
    assert all((c[..., 3] == 255).all() for c in built.values())
    summary = backfill(tmp_path)
    for path, colours in built.items():
        np.testing.assert_array_equal(read_shard(path)["colors"], colours)
    assert (
        summary[source]["known"]
        == summary[source]["points"]
        == sum(c[..., 0].size for c in built.values())
    )
    before = {p: p.stat().st_mtime_ns for p in built}
    assert backfill(tmp_path)["_skipped"]["shards"] == len(built)  # resumable
    assert before == {p: p.stat().st_mtime_ns for p in built}


def test_a_shard_whose_sdf_disagrees_is_left_alone(tmp_path, monkeypatch, capsys):
    _sources(monkeypatch)
    build(tmp_path, ["blob"], 3, views=1, workers=1, points=256)
    _strip(tmp_path)
    path = sorted((tmp_path / "train").glob("*.npz"))[0]
    arrays = read_shard(path)
    arrays["sdf"] = (arrays["sdf"].astype(np.float32) + 0.05).astype(np.float16)
    write_arrays(path, arrays)
    summary = backfill(tmp_path)
    assert summary["_failed"]["shards"] == 1
    assert "frame mismatch" in capsys.readouterr().out
    assert "colors" not in read_shard(path)


def test_a_stream_that_cannot_be_replayed_is_marked_unknown(tmp_path, monkeypatch):
    """Points that differ from the replay (another build's) get alpha 0, not a guess."""
    _sources(monkeypatch)
    build(tmp_path, ["procedural"], 3, views=1, workers=1, points=256)
    _strip(tmp_path)
    path = sorted((tmp_path / "train").glob("*.npz"))[0]
    arrays = read_shard(path)
    arrays["points"] = arrays["points"][:, ::-1].copy()  # same SDF check points, other order
    arrays["sdf"] = arrays["sdf"][:, ::-1].copy()
    write_arrays(path, arrays)
    backfill(tmp_path)
    assert (read_shard(path)["colors"][..., 3] == 0).all()


def test_builds_made_before_the_hdri_light_replay_too(tmp_path, monkeypatch):
    """Shards whose looks drew only the studio part (older builds) get known colours as well."""
    import training.data.pipeline as pipeline_mod
    from training.data.shading import studio_look

    today = pipeline_mod.random_look
    monkeypatch.setattr(pipeline_mod, "random_look", studio_look)
    build(tmp_path, ["procedural"], 3, views=2, workers=1, points=256)
    built = _strip(tmp_path)
    monkeypatch.setattr(pipeline_mod, "random_look", today)  # (undo would also undo the meshing)
    summary = backfill(tmp_path)
    assert summary["procedural"]["verified"] == summary["procedural"]["samples"] > 0
    for path, colours in built.items():
        np.testing.assert_array_equal(read_shard(path)["colors"], colours)
