"""The inference benchmark runs end to end on the shipped weights and reports what it measured."""

from __future__ import annotations

import json

import trimesh

from training import bench_inference


def test_benchmark_reports_bundle_times_the_cache_ratio_and_the_bicubic_cost(capsys):
    bench_inference.main(["--resolutions", "32", "--repeats", "1", "--threads", "1"])
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "cpu"  # the default: the targets are the CPU's
    bundle = out["bundle_32"]
    assert bundle["wall_s"] > 0 and len(bundle["all_runs_s"]) == 1
    assert bundle["mesh"]["faces"] > 0 and bundle["mesh"]["watertight"]
    off = out["bundle_32_flip_off"]  # the per-job switch, timed in the same run
    assert off["mesh"]["faces"] > 0 and len(off["all_runs_s"]) == 1
    assert abs(out["flip_off_speedup_32"] - bundle["wall_s"] / off["wall_s"]) < 0.05
    cache = out["feature_cache_128"]
    assert cache["evaluations"] > 10_000  # a 128^3 coarse-to-fine pass over a real surface
    rerun = cache[f"rerun_per_{bench_inference.QUERY_CHUNK}_points_s"]
    assert abs(cache["speedup"] - rerun / cache["cached_s"]) < 0.02  # rounded to 0.01 each
    cubic = out["bicubic_sampling_128"]  # the plain network, bicubic against bilinear
    assert cubic["bilinear_s"] == cache["cached_s"] and cubic["bicubic_s"] > 0
    assert abs(cubic["cost_ratio"] - cubic["bicubic_s"] / cubic["bilinear_s"]) < 0.02
    fills = out["silhouette_fill_128"]  # its cost beside the grid it repairs
    assert fills["half_thickness"] == out["inference_settings"]["silhouette_fill"]
    for fill in (fills["example"], fills["thin"]):
        assert fill["fill_s"] > 0 and 0 <= fill["missed_rays"] <= fill["mask_rays"]
        assert abs(fill["share_of_grid"] - fill["fill_s"] / cache["cached_s"]) < 0.02
    # the wheel's spokes are lost by the plain network: the fill is timed at work there
    assert fills["thin"]["missed_rays"] > fills["thin"]["mask_rays"] // 4


def test_mesh_difference_tells_the_same_mesh_from_a_moved_one(tmp_path):
    sphere = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    moved = sphere.copy()
    moved.apply_translation([0.005, 0.0, 0.0])
    for name, mesh in (("a", sphere), ("b", sphere), ("c", moved)):
        mesh.export(tmp_path / f"{name}.glb")
    same = bench_inference.mesh_difference(tmp_path / "a.glb", tmp_path / "b.glb")
    assert same["identical"] and same["largest_vertex_shift"] == 0.0
    assert same["chamfer_l1_old_new"] == same["chamfer_l1_old_old"] > 0  # the noise floor
    shifted = bench_inference.mesh_difference(tmp_path / "a.glb", tmp_path / "c.glb")
    assert not shifted["identical"] and shifted["faces"] == [len(sphere.faces)] * 2
    assert abs(shifted["largest_vertex_shift"] - 0.005) < 1e-6
    assert shifted["chamfer_l1_old_new"] > shifted["chamfer_l1_old_old"] + 0.001
