"""Command line: ``python -m training.data build|photo-val|sheet|install|bench|stats|colors``
(see docs/DATA.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.data.shards import SPLITS
from training.data.sources import SOURCE_NAMES


def parse_shapes(values: list[str], sources: list[str]) -> dict[str, int]:
    """``["500"]`` -> 500 for every source; ``["procedural=900", "0ad=300"]`` -> per source
    (sources not named get none)."""
    if len(values) == 1 and "=" not in values[0]:
        return {s: int(values[0]) for s in sources}
    out = {s: 0 for s in sources}
    for v in values:
        name, _, n = v.partition("=")
        if name not in out:
            raise SystemExit(f"--shapes names {name!r}, which is not among --sources")
        out[name] = int(n)
    return out


def print_stats(out: Path) -> None:
    """Samples per split, source and family, shapes kept per source, and drops."""
    from training.data.shards import write_manifest

    m = write_manifest(out)
    shapes: dict[str, int] = {}
    for rel in (p for v in m["splits"].values() for p in v):
        side = json.loads((out / rel).with_suffix(".json").read_text())
        shapes[side["source"]] = (
            shapes.get(side["source"], 0) + len(side["shapes"]) - sum(side["dropped"].values())
        )
    for split, by_src in m["counts"].items():
        for src, fams in sorted(by_src.items()):
            print(f"{split:5s} {src:10s} {sum(fams.values()):6d}  {dict(sorted(fams.items()))}")
    total = sum(n for s in m["counts"].values() for f in s.values() for n in f.values())
    print(f"total samples {total}; shapes kept per source {shapes}")
    print(f"dropped shapes {json.dumps(m['dropped'], sort_keys=True)}")


def run_build(a: argparse.Namespace) -> None:
    """The ``build`` command: build (or resume) and print the counts."""
    from training.data.build import build

    shapes = parse_shapes(a.shapes, a.sources)
    try:
        m = build(
            a.out,
            a.sources,
            shapes,
            a.views,
            a.workers,
            a.points,
            tuple(a.splits),
            tuple(a.exclude),
        )
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps({"counts": m["counts"], "dropped": m["dropped"]}, indent=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.data", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    b = sub.add_parser("build", help="render a data set into shards (resumable)")
    b.add_argument("--out", type=Path, required=True)
    b.add_argument(
        "--shapes",
        nargs="+",
        required=True,
        help="shapes per source (capped by its size): N, or SOURCE=N ... per source",
    )
    b.add_argument("--views", type=int, default=4, help="views per shape")
    b.add_argument("--sources", nargs="+", default=list(SOURCE_NAMES), choices=SOURCE_NAMES)
    b.add_argument("--workers", type=int, default=1)
    b.add_argument("--points", type=int, default=8192, help="SDF points per sample")
    b.add_argument(
        "--splits",
        nargs="+",
        default=list(SPLITS),
        choices=SPLITS,
        help="make only these splits' shards now (val test: an evaluation set in minutes)",
    )
    b.add_argument(
        "--exclude",
        nargs="+",
        type=Path,
        default=[],
        metavar="DIR",
        help="leave out the shapes these earlier sets hold (add shapes without duplicates)",
    )

    pv = sub.add_parser("photo-val", help="held-out shapes with Cycles-rendered inputs (resumable)")
    pv.add_argument("--out", type=Path, required=True)
    pv.add_argument(
        "--from",
        dest="sets",
        nargs="+",
        action="extend",
        type=Path,
        required=True,
        metavar="DIR",
        help="data sets whose --split shapes to take (repeatable)",
    )
    pv.add_argument("--split", default="val", choices=SPLITS)
    pv.add_argument("--shapes", type=int, default=16, help="shapes per source")
    pv.add_argument("--views", type=int, default=2, help="views per shape")
    pv.add_argument("--points", type=int, default=8192, help="SDF points per sample")
    pv.add_argument(
        "--samples",
        type=int,
        default=16,
        help="Cycles samples per pixel; 0: the ray-cast twin of the same samples",
    )

    s = sub.add_parser("sheet", help="draw a contact sheet PNG (input, 12 slices, SDF section)")
    s.add_argument("--sources", nargs="+", default=["procedural"], choices=SOURCE_NAMES)
    s.add_argument("--count", type=int, default=6, help="samples per source")
    s.add_argument("--out", type=Path, default=Path("out/sheet.png"))
    s.add_argument("--seed", type=int, default=0)

    i = sub.add_parser("install", help="fetch the real-mesh sources by package name")
    i.add_argument(
        "--sources",
        nargs="+",
        default=["cgal", "pybullet", "0ad", "sh3d-furniture", "sh3d-jar", "flightgear"],
        choices=SOURCE_NAMES,
    )

    n = sub.add_parser("bench", help="samples per second, split by stage")
    n.add_argument("--sources", nargs="+", default=["procedural"], choices=SOURCE_NAMES)
    n.add_argument("--shapes", type=int, default=8)
    n.add_argument("--views", type=int, default=4)
    n.add_argument("--workers", type=int, default=1)

    st = sub.add_parser("stats", help="samples per split, source and family, and drops")
    st.add_argument("--out", type=Path, required=True)

    c = sub.add_parser("colors", help="add surface colours to shards built without them")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--splits", nargs="+", default=list(SPLITS), choices=SPLITS)
    c.add_argument("--workers", type=int, default=1)

    a = ap.parse_args(argv)
    if a.cmd == "build":
        run_build(a)
    elif a.cmd == "photo-val":
        from training.data.photo_val import build_photo_val

        try:
            m = build_photo_val(a.out, a.sets, a.split, a.shapes, a.views, a.points, a.samples)
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        print(json.dumps({"counts": m["counts"], "dropped": m["dropped"]}, indent=1))
    elif a.cmd == "sheet":
        from training.data.sheet import contact_sheet

        contact_sheet(a.sources, a.count, a.out, a.seed)
        print(f"wrote {a.out}")
    elif a.cmd == "install":
        from training.data.sources.install import install

        for name in a.sources:
            print(f"{name}: {install(name)}")
    elif a.cmd == "colors":
        from training.data.colors_backfill import backfill

        summary = backfill(a.out, tuple(a.splits), a.workers)
        print(json.dumps(summary, indent=1, sort_keys=True))
    elif a.cmd == "stats":
        print_stats(a.out)
    elif a.cmd == "bench":
        from training.data.bench import bench

        bench(a.sources, a.shapes, a.views, a.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
