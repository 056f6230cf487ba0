"""Paired comparison of two predictors over the same evaluation samples, with a bootstrap interval.

Two evaluation runs on the same split score the same samples in the same order, so the question
"is B better than A?" is best asked per sample. Views of one shape are not independent (they
share the object), so the bootstrap draws whole shapes, not samples: the interval is honest about
how few distinct objects a split holds. The mean difference is B minus A; for Chamfer-L1 a
negative difference means B is better, for F-score, normal consistency and IoU a positive one.
The default metrics are the normalised Chamfer-L1, F@0.01, F@0.05 and normal consistency.

    python -m training.compare runs/eval/full_test_L/results.json:baseline \
        runs/eval/full_test_L/results.json:L --metrics norm/f@0.05 norm/chamfer_l1

Runs joined with ``+`` (``a/results.json+b/results.json:L``) are pooled: separate evaluations of
two test sets give one interval over all their shapes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

DEFAULT_METRICS = ("norm/chamfer_l1", "norm/f@0.01", "norm/f@0.05", "norm/normal_consistency")


@dataclass(frozen=True)
class Scores:
    """One predictor's per-sample metrics from one ``results.json``, in the run's sample order."""

    label: str
    shape_ids: list[str]
    sources: list[str]
    metrics: list[dict]


@dataclass(frozen=True)
class PairedDifference:
    group: str
    metric: str
    n: int  # samples where both predictors have the metric
    shapes: int
    mean_a: float
    mean_b: float
    diff: float  # mean of (b - a)
    low: float  # bootstrap percentile interval of diff
    high: float
    rel: float  # mean_b / mean_a - 1, the form of a "35% lower Chamfer-L1" target
    rel_low: float
    rel_high: float
    b_better: int  # samples where b beats a (lower Chamfer, higher F-score / NC / IoU)


def load_scores(spec: str) -> Scores:
    """``PATH[+PATH...]:PREDICTOR`` -> that predictor's scores, runs joined with ``+`` pooled in
    the order given (two test sets evaluated separately, one interval over all their shapes);
    a clear error for a wrong path or name."""
    paths, sep, name = spec.rpartition(":")
    if not sep or not paths or not name:
        raise ValueError(f"expected PATH:PREDICTOR, got {spec!r}")
    parts = [Path(p) for p in paths.split("+")]
    if len({p.resolve() for p in parts}) < len(parts):
        raise ValueError(f"{spec!r} lists one run twice; its shapes would count double")
    runs = [_load_run(p, name) for p in parts]
    return Scores(
        label="+".join(p.parent.name for p in parts) + f":{name}",
        shape_ids=[s for r in runs for s in r.shape_ids],
        sources=[s for r in runs for s in r.sources],
        metrics=[m for r in runs for m in r.metrics],
    )


def _load_run(path: Path, name: str) -> Scores:
    try:
        run = json.loads(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not an evaluation results file: {exc}") from None
    results = run.get("results") if isinstance(run, dict) else None
    if not isinstance(results, list) or not results:
        raise ValueError(f"{path} holds no per-sample results")
    names = sorted(results[0].get("metrics", {}))
    if name not in names:
        raise ValueError(f"{path} has no predictor {name!r}; it has {', '.join(names)}")
    try:
        return Scores(
            label=f"{path.parent.name}:{name}",
            shape_ids=[r["shape_id"] for r in results],
            sources=[r["source"] for r in results],
            metrics=[r["metrics"][name] for r in results],
        )
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: a sample lacks {exc} for {name!r}") from None


def check_same_samples(a: Scores, b: Scores) -> None:
    if a.shape_ids != b.shape_ids:
        raise ValueError(
            f"{a.label} and {b.label} did not score the same samples in the same order "
            f"({len(a.shape_ids)} against {len(b.shape_ids)}); run both on one split and draw")


def higher_is_better(metric: str) -> bool:
    return "chamfer" not in metric


def paired_difference(a: Scores, b: Scores, metric: str, group: str = "all",
                      draws: int = 2000, seed: int = 0) -> PairedDifference | None:
    """Mean of b - a over the group's samples and its shape-clustered bootstrap interval (95%)."""
    keep = [i for i, src in enumerate(a.sources)
            if (group == "all" or src == group)
            and a.metrics[i].get(metric) is not None and b.metrics[i].get(metric) is not None]
    if not keep:
        return None
    va = np.array([a.metrics[i][metric] for i in keep], np.float64)
    vb = np.array([b.metrics[i][metric] for i in keep], np.float64)
    shapes, cluster = np.unique([a.shape_ids[i] for i in keep], return_inverse=True)
    sum_a = np.bincount(cluster, weights=va, minlength=len(shapes))
    sum_b = np.bincount(cluster, weights=vb, minlength=len(shapes))
    counts = np.bincount(cluster, minlength=len(shapes)).astype(np.float64)
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(shapes), size=(draws, len(shapes)))
    n, a_tot, b_tot = counts[pick].sum(1), sum_a[pick].sum(1), sum_b[pick].sum(1)
    boot = (b_tot - a_tot) / n
    with np.errstate(divide="ignore", invalid="ignore"):  # a metric whose mean A is 0
        boot_rel = b_tot / a_tot - 1
        rel = vb.mean() / va.mean() - 1
    wins = vb > va if higher_is_better(metric) else vb < va
    return PairedDifference(
        group=group, metric=metric, n=len(keep), shapes=len(shapes),
        mean_a=float(va.mean()), mean_b=float(vb.mean()), diff=float((vb - va).mean()),
        low=float(np.percentile(boot, 2.5)), high=float(np.percentile(boot, 97.5)),
        rel=float(rel), rel_low=float(np.percentile(boot_rel, 2.5)),
        rel_high=float(np.percentile(boot_rel, 97.5)),
        b_better=int(wins.sum()),
    )


def compare_runs(a: Scores, b: Scores, metrics: list[str], draws: int = 2000,
                 seed: int = 0) -> list[PairedDifference]:
    """Every metric over all samples, then per source (sources in order of first appearance)."""
    check_same_samples(a, b)
    groups = ["all", *dict.fromkeys(a.sources)]
    rows = [paired_difference(a, b, m, g, draws, seed) for g in groups for m in metrics]
    return [r for r in rows if r is not None]


def markdown(a: Scores, b: Scores, rows: list[PairedDifference]) -> str:
    lines = [f"B - A, A = {a.label}, B = {b.label}; 95% interval from whole shapes redrawn\n",
             "| group | metric | n (shapes) | A | B | B - A | 95% interval | B / A - 1 (95%) "
             "| B better |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.group} | {r.metric} | {r.n} ({r.shapes}) | {r.mean_a:.4f} | {r.mean_b:.4f} | "
            f"{r.diff:+.4f} | {r.low:+.4f} .. {r.high:+.4f} | "
            f"{r.rel:+.1%} ({r.rel_low:+.1%} .. {r.rel_high:+.1%}) | {r.b_better} of {r.n} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", help="PATH[+PATH...]:PREDICTOR of the reference "
                    "(runs/eval/x/results.json:baseline)")
    ap.add_argument("b", help="PATH[+PATH...]:PREDICTOR compared against it")
    ap.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS))
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = ap.parse_args(argv)
    try:
        if args.draws < 1:
            raise ValueError("--draws must be at least 1")
        a, b = load_scores(args.a), load_scores(args.b)
        rows = compare_runs(a, b, args.metrics, args.draws, args.seed)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    if not rows:
        raise SystemExit(f"error: no sample has {', '.join(args.metrics)} for both predictors")
    print(markdown(a, b, rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))


if __name__ == "__main__":
    main()
