"""training.compare: per-sample paired differences with a bootstrap that redraws whole shapes."""

from __future__ import annotations

import json

import pytest

from training.compare import compare_runs, load_scores, main, paired_difference


def write_run(path, rows: list[tuple[str, str, dict[str, dict]]]):
    """rows: (shape_id, source, {predictor: metrics}) as training.evaluate writes them."""
    results = [{"shape_id": s, "source": src, "family": "x", "metrics": m} for s, src, m in rows]
    path.write_text(json.dumps({"split": "test", "results": results}))
    return path


@pytest.fixture
def run(tmp_path):
    # two shapes of source "a" with two views each, one shape of source "b"
    rows = [
        ("s1", "a", {"base": {"f": 0.5, "cd": 0.04}, "net": {"f": 0.7, "cd": 0.02}}),
        ("s1", "a", {"base": {"f": 0.5, "cd": 0.04}, "net": {"f": 0.7, "cd": 0.02}}),
        ("s2", "a", {"base": {"f": 0.6, "cd": 0.02}, "net": {"f": 0.5, "cd": 0.03}}),
        ("s2", "a", {"base": {"f": 0.6, "cd": 0.02}, "net": {"f": 0.5, "cd": 0.03}}),
        ("s3", "b", {"base": {"f": 0.4, "cd": None}, "net": {"f": 0.8, "cd": 0.01}}),
    ]
    return write_run(tmp_path / "results.json", rows)


def test_means_difference_and_wins_by_hand(run):
    base, net = load_scores(f"{run}:base"), load_scores(f"{run}:net")
    r = paired_difference(base, net, "f")
    assert (r.n, r.shapes) == (5, 3)
    assert r.mean_a == pytest.approx(0.52) and r.mean_b == pytest.approx(0.64)
    assert r.diff == pytest.approx(0.12)
    assert r.rel == pytest.approx(0.64 / 0.52 - 1)
    assert r.b_better == 3
    assert r.low <= r.diff <= r.high


def test_chamfer_lower_wins_and_missing_values_are_left_out(run):
    base, net = load_scores(f"{run}:base"), load_scores(f"{run}:net")
    r = paired_difference(base, net, "cd")
    assert r.n == 4  # s3's baseline has no value
    assert r.diff == pytest.approx(((-0.02) * 2 + 0.01 * 2) / 4)
    assert r.b_better == 2


def test_interval_is_over_shapes_so_identical_views_do_not_narrow_it(run, tmp_path):
    """Every shape gives the same difference: any redraw of shapes gives exactly that mean."""
    rows = [(f"s{i // 4}", "a", {"base": {"f": 0.5}, "net": {"f": 0.6}}) for i in range(12)]
    path = write_run(tmp_path / "same.json", rows)
    r = paired_difference(load_scores(f"{path}:base"), load_scores(f"{path}:net"), "f")
    assert r.low == pytest.approx(0.1) and r.high == pytest.approx(0.1)
    # two shapes that disagree: the interval must span both shapes' own differences
    base, net = load_scores(f"{run}:base"), load_scores(f"{run}:net")
    r = paired_difference(base, net, "f", group="a", draws=4000)
    assert r.low == pytest.approx(-0.1) and r.high == pytest.approx(0.2)


def test_groups_are_all_then_each_source(run):
    rows = compare_runs(load_scores(f"{run}:base"), load_scores(f"{run}:net"), ["f"])
    assert [(r.group, r.n) for r in rows] == [("all", 5), ("a", 4), ("b", 1)]


def test_different_samples_are_refused(run, tmp_path):
    other = write_run(tmp_path / "other.json", [("s9", "a", {"net": {"f": 0.1}})])
    with pytest.raises(ValueError, match="same samples"):
        compare_runs(load_scores(f"{run}:base"), load_scores(f"{other}:net"), ["f"])


@pytest.mark.parametrize("spec, message", [
    ("no-colon", "PATH:PREDICTOR"),
    ("{run}:nope", "no predictor 'nope'; it has base, net"),
    ("{dir}/missing.json:net", "cannot read"),
    ("{dir}/partial.json:net", "a sample lacks 'shape_id'"),
    ("{run}+{run}:net", "lists one run twice"),
    ("{run}+{dir}/../{dirname}/results.json:net", "lists one run twice"),
])
def test_bad_specs_get_clear_messages(run, spec, message, capsys):
    (run.parent / "partial.json").write_text(json.dumps({"results": [{"metrics": {"net": {}}}]}))
    spec = spec.format(run=run, dir=run.parent, dirname=run.parent.name)
    with pytest.raises(SystemExit) as exc:
        main([spec, f"{run}:net"])
    assert message in str(exc.value) and str(exc.value).startswith("error: ")


def test_command_line_prints_the_table_and_writes_json(run, tmp_path, capsys):
    out = tmp_path / "rows.json"
    main([f"{run}:base", f"{run}:net", "--metrics", "f", "--json", str(out)])
    table = capsys.readouterr().out
    assert "| all | f | 5 (3) | 0.5200 | 0.6400 | +0.1200 |" in table
    assert json.loads(out.read_text())[0]["diff"] == pytest.approx(0.12)


def test_runs_joined_with_plus_are_pooled_over_all_their_shapes(run, tmp_path):
    """A second test set evaluated on its own: joined, its shapes count beside the first's."""
    more = tmp_path / "more"
    more.mkdir()
    second = write_run(more / "results.json", [
        ("t1", "a", {"base": {"f": 0.3}, "net": {"f": 0.9}}),
        ("t2", "c", {"base": {"f": 0.5}, "net": {"f": 0.5}}),
    ])
    base, net = load_scores(f"{run}+{second}:base"), load_scores(f"{run}+{second}:net")
    assert base.label == f"{run.parent.name}+more:base"
    rows = {(r.group, r.metric): r for r in compare_runs(base, net, ["f"])}
    assert (rows["all", "f"].n, rows["all", "f"].shapes) == (7, 5)
    assert rows["all", "f"].diff == pytest.approx((0.12 * 5 + 0.6 + 0.0) / 7)
    assert (rows["a", "f"].n, rows["c", "f"].n) == (5, 1)
    # joined in another order the samples differ in order, so the pair is refused
    with pytest.raises(ValueError, match="same samples"):
        compare_runs(base, load_scores(f"{second}+{run}:net"), ["f"])


def test_default_table_has_normal_consistency_beside_chamfer_and_fscores(tmp_path, capsys):
    """Real metrics from training.metrics: a smooth sphere (B) against a rough one (A)."""
    import numpy as np
    import trimesh

    from training.metrics import compare

    ref = trimesh.creation.icosphere(5, radius=0.3)
    rng = np.random.default_rng(0)
    rough = trimesh.Trimesh(ref.vertices + rng.normal(0, 0.003, ref.vertices.shape), ref.faces)
    rows = [(f"s{i}", "a", {"rough": compare(rough, ref, seed=i, iou=False),
                            "smooth": compare(ref.copy(), ref, seed=i, iou=False)})
            for i in range(2)]
    path = write_run(tmp_path / "results.json", rows)
    main([f"{path}:rough", f"{path}:smooth"])
    table = capsys.readouterr().out
    for metric in ("norm/chamfer_l1", "norm/f@0.01", "norm/f@0.05", "norm/normal_consistency"):
        assert f"| all | {metric} |" in table
    nc = next(line for line in table.splitlines() if "| all | norm/normal_consistency" in line)
    assert nc.endswith("| 2 of 2 |")  # higher is better: the smooth sphere wins both


def test_runs_from_before_normal_consistency_still_compare(run, capsys):
    main([f"{run}:base", f"{run}:net", "--metrics", "f", "norm/normal_consistency"])
    table = capsys.readouterr().out
    assert "| all | f |" in table and "normal_consistency" not in table
