"""Rebuild the shipped weights from data: the phases A..O, each a training run whose output
starts the next one, then phase V, the view fusion trained alone on O's frozen network, and
phase T, the colour head trained alone on V's.

    python -m training.recipe --dry-run                 # the plan: data commands, runs, means
    python -m training.recipe [--phases A..T] [--hours H]
    python -m training.recipe --phases A --stop-at 300 --seed 1   # a noise rerun of phase A

Each phase is one config in ``training/configs/recipe/`` that ``extends`` the previous phase's
(phase A extends the main config, ``training/configs/slice3d_compact.json``, which is the shipped
network and phase O's settings). Its ``init_weights`` names the previous phase's output under
``runs/recipe/<phase>/``: the last weights, the mean of its snapshots (``model_avg``), or for
phase G the mean of phase F's weights and phase G's mean (``model_soup``), as the shipped
lineage was built (docs/MODEL.md section 2). A phase whose ``done.json`` exists is skipped; an
interrupted one resumes from its checkpoint. Phase V adds the tensors that read several photos
(``view_fusion``) and leaves every one-photo tensor as O made it; phase T adds the colour head
(``colour_head``, the texture's colour where the photo does not see) and leaves every other
tensor as V made it. After phases O and T the recipe calibrates the inference settings (T's
equal O's: one photo's SDF is answered as O answers it; V's would too, and nothing reads them), and
after the last phase it prints the ``training.ship`` command: it never writes
``backend/weights/`` itself (``training.train`` refuses a run folder or starting weights there).

Differences from the recorded runs, on purpose: phase A reads ``data/pre1r`` (procedural shapes
the documented command rebuilds) because ``data/pre1`` was made by a command nobody wrote down;
phase B reads the first 1,528 train samples of ``data/v1`` in manifest order, not the first 52
shards of the build then in progress; phases A-C run as three chained runs (fresh Adam state and
a warm-up at each start) where the record resumed one run; every phase trains in float32 (A-X
used bfloat16 autocast, 3-10x slower on CPUs without native bf16); each phase starts from the
fp32 output of the one before, not from the fp16 file ``training.ship`` wrote; phase V reads
whatever ``data/v1`` the recipe built (the recorded run read the first 872 training samples of its
rebuild under the HDRI light) and the whole of ``data/fg`` and ``data/sh3d`` (the recorded run: the
first 40% of Sweet Home 3D's training split); phase T reads the whole of ``data/sh3d``'s training
split too (the recorded run: 228 samples, the first 8 shards of a build stopped early).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

from training.config import load_config
from training.train import MIRROR, REPO, preflight, train

CONFIG_DIR = REPO / "training" / "configs" / "recipe"
RUNS = Path("runs")  # config paths under runs/ are read under the recipe's run root

V1 = "python -m training.data build --out data/v1"
DATA_PRE1R = ("python -m training.data build --out data/pre1r --sources procedural "
              "--shapes procedural=340 --views 4 --workers 2")
DATA_V1 = (
    "python -m training.data install --sources cgal pybullet 0ad",
    f"{V1} --shapes procedural=1000 0ad=900 pybullet=300 cgal=200 --views 4 --workers 2",
    f"{V1} --sources everyday --shapes 200 --views 4 --workers 2",
    f"{V1} --sources procedural pybullet --shapes procedural=1600 pybullet=600 --views 4 "
    "--workers 2",
)
DATA_V1_0AD = ("python -m training.data build --out data/v1_0ad --sources 0ad --shapes 0ad=2400 "
               "--exclude data/v1 --views 4 --workers 2 --splits train",)
DATA_O = (
    "python -m training.data build --out data/v1_pyb --sources pybullet --shapes pybullet=1000 "
    "--exclude data/v1 --views 4 --workers 2 --splits train",
    "python -m training.data build --out data/v1_0ad2 --sources 0ad --shapes 0ad=3999 "
    "--exclude data/v1 data/v1_0ad --views 4 --workers 2 --splits train",
)
CALIBRATE = ("python -m training.calibrate --weights {weights} --data data/v1 --split val "
             "--sources 0ad everyday pybullet --per-source 30 --offsets 0 "
             "--depth-clips off 0.1 0.2 --samplings bilinear bicubic --fills off 0.04 "
             "--threads 2 --out {out}")
DATA_NEW_SOURCES = (
    "python -m training.data install --sources sh3d-furniture sh3d-jar flightgear",
    "python -m training.data build --out data/fg --sources flightgear --shapes flightgear=600 "
    "--views 4 --workers 2",
    "python -m training.data build --out data/sh3d --sources sh3d-furniture sh3d-jar "
    "--shapes sh3d-furniture=900 sh3d-jar=120 --views 4 --workers 2",
)
# Phase T: Cycles renders of Sweet Home 3D's training shapes (photo-like light and exposure),
# and everyday and procedural shapes of the data engine's own (colours of every kind, so the head
# does not learn furniture's colours for every object)
DATA_COLOUR = (
    "python -m training.data photo-val --out data/photo_train_sh3d --from data/sh3d --split train "
    "--shapes 380 --views 2",
    "python -m training.data photo-val --out data/photo_val_sh3d --from data/sh3d --split val "
    "--shapes 40 --views 2",
    "python -m training.data build --out data/wide --sources everyday procedural "
    "--shapes everyday=500 procedural=500 --views 2 --workers 2 --splits train --exclude data/v1",
    "python -m training.data build --out data/wide2 --sources everyday procedural "
    "--shapes everyday=1100 procedural=1100 --views 2 --workers 2 --splits train "
    "--exclude data/v1 data/wide",
)
SHIP = ("python -m training.ship --candidate {candidate} --describe "
        "\"rebuilt from data by python -m training.recipe (phases A..T)\"")


@dataclass(frozen=True)
class Phase:
    """One phase: its config, the data commands it needs beyond the earlier phases', and how
    its output is made from its run."""

    name: str
    data: tuple[str, ...] = ()
    stop_at: int | None = None  # the recorded run stopped here (time budget); schedule unchanged
    average: bool = False  # output = mean of the run's snapshots (training.average_weights)
    soup_with: str = ""  # output = mean of that phase's output and this phase's mean
    calibrate: bool = False  # then fit the inference settings (training.calibrate)

    @property
    def output_name(self) -> str:
        if self.soup_with:
            return "model_soup.safetensors"
        return "model_avg.safetensors" if self.average else "model.safetensors"


PHASES = (
    Phase("A", data=(DATA_PRE1R,)),
    Phase("B", data=DATA_V1),
    Phase("C"),
    Phase("D"),
    Phase("E"),
    Phase("F", stop_at=2079),
    Phase("G", average=True, soup_with="F"),
    Phase("X", stop_at=1605, average=True),
    Phase("K", average=True),
    Phase("L", average=True),
    Phase("M", average=True),
    Phase("N", data=DATA_V1_0AD, average=True),
    Phase("O", data=DATA_O, stop_at=2372, average=True, calibrate=True),
    Phase("V", data=DATA_NEW_SOURCES, stop_at=551),
    Phase("T", data=DATA_COLOUR, calibrate=True),
)


def parse_phases(text: str, phases: tuple[Phase, ...] = PHASES) -> list[Phase]:
    """``"A..O"``, ``"D.."``, ``"A-C"`` (ranges in recipe order) or ``"A,B"``."""
    names = [p.name for p in phases]
    picked: list[str] = []
    for part in text.replace(" ", "").split(","):
        sep = ".." if ".." in part else "-" if "-" in part else None
        lo, hi = part.split(sep) if sep else (part, part)
        lo, hi = lo or names[0], hi or names[-1]
        for n in (lo, hi):
            if n not in names:
                raise ValueError(f"no phase {n!r} in the recipe (phases: {' '.join(names)})")
        if names.index(lo) > names.index(hi):
            raise ValueError(f"{part!r}: {lo} comes after {hi} in the recipe")
        picked += names[names.index(lo): names.index(hi) + 1]
    return [p for p in phases if p.name in picked]


def under_root(path: str, run_root: Path) -> Path:
    """A config path: one under ``runs/`` is read under the recipe's run root."""
    p = Path(path)
    if p.parts[:1] == RUNS.parts:
        return run_root / Path(*p.parts[1:])
    return p if p.is_absolute() else REPO / p


def phase_config(phase: Phase, run_root: Path, config_dir: Path = CONFIG_DIR,
                 seed: int | None = None) -> dict:
    """The phase's config with its starting weights read under ``run_root``; another ``seed``
    makes a side run (``<name>_seed<S>``) that nothing chains from."""
    cfg = load_config(config_dir / f"{phase.name}.json")
    if cfg["init_weights"]:
        cfg["init_weights"] = str(under_root(cfg["init_weights"], run_root))
    if seed is not None:
        cfg.update(seed=seed, name=f"{cfg['name']}_seed{seed}")
    return cfg


def output_path(phase: Phase, run_root: Path, config_dir: Path = CONFIG_DIR) -> Path:
    return run_root / load_config(config_dir / f"{phase.name}.json")["name"] / phase.output_name


def finish(phase: Phase, run_dir: Path, run_root: Path, config_dir: Path) -> Path:
    """Make the phase's output from its run: the last weights, the snapshot mean, the soup."""
    from training.average_weights import average_weights

    out = run_dir / phase.output_name
    if phase.average:
        snaps = sorted((run_dir / "snapshots").glob("*.safetensors"))
        if not snaps:
            raise FileNotFoundError(f"{run_dir}/snapshots holds no checkpoint to average")
        mean = run_dir / "model_avg.safetensors"
        info = average_weights(snaps, mean)
        print(f"[{phase.name}] averaged steps {info['averaged_steps']}", flush=True)
        if phase.soup_with:
            other = next(p for p in PHASES if p.name == phase.soup_with)
            average_weights([output_path(other, run_root, config_dir), mean], out)
            print(f"[{phase.name}] soup: mean of phase {other.name} and {mean.name}", flush=True)
    return out


def build_data(phase: Phase) -> None:
    """Run the phase's data commands here (``python`` is this interpreter), from the repo root."""
    import shlex
    import subprocess
    import sys

    for command in phase.data:
        argv = shlex.split(command)
        print(f"[{phase.name}] {command}", flush=True)
        subprocess.run([sys.executable, *argv[1:]], cwd=REPO, check=True)


def calibrate(weights: Path) -> Path:
    from training.calibrate import main as calibrate_main

    out = weights.with_name("model_calibrated.safetensors")
    calibrate_main(CALIBRATE.format(weights=weights, out=out).split()[3:])
    return out


def run_phase(phase: Phase, run_root: Path, hours: float | None = None,
              stop_at: int | None = None, seed: int | None = None,
              config_dir: Path = CONFIG_DIR, mirror_root: Path | None = MIRROR) -> Path:
    """Train one phase (or resume it), make its output; return the output's path."""
    cfg = phase_config(phase, run_root, config_dir, seed)
    run_dir = run_root / cfg["name"]
    done = run_dir / "done.json"
    if done.exists() and stop_at is None:
        print(f"[{phase.name}] done before: {run_dir}", flush=True)
        return run_dir / phase.output_name
    if cfg["init_weights"] and not Path(cfg["init_weights"]).exists():
        raise FileNotFoundError(f"phase {phase.name} starts from {cfg['init_weights']}, which "
                                "does not exist: run the phase before it first")
    last = stop_at if stop_at is not None else phase.stop_at
    result = train(cfg, hours=hours, resume=True, run_root=run_root, mirror_root=mirror_root,
                   stop_at=last)
    if result["step"] < min(cfg["max_steps"], last or cfg["max_steps"]):
        raise SystemExit(f"[{phase.name}] stopped at step {result['step']} (time budget): "
                         "run the same command again to resume it")
    out = finish(phase, run_dir, run_root, config_dir)
    if phase.calibrate and seed is None and stop_at is None:
        out = calibrate(out)
    if stop_at is None and seed is None:
        done.write_text(json.dumps({"step": result["step"], "output": str(out)}))
    return out


def shown(path: Path) -> str:
    """A path as the plan prints it: relative to the repository when it is inside."""
    path = Path(path)
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def plan(phases: list[Phase], run_root: Path, config_dir: Path = CONFIG_DIR,
         seed: int | None = None, stop_at: int | None = None) -> list[str]:
    """What a run of ``phases`` does, as commands to print; loads and checks every config."""
    lines = []
    for phase in phases:
        cfg = phase_config(phase, run_root, config_dir, seed)
        preflight(cfg, run_root, mirror_root=None)
        run_dir = run_root / cfg["name"]
        if phase.data:
            lines += [f"# phase {phase.name}: data", *phase.data]
        last = stop_at if stop_at is not None else phase.stop_at
        stop = f" --stop-at {last}" if last else ""
        start = shown(Path(cfg["init_weights"])) if cfg["init_weights"] else "scratch"
        lines.append(f"# phase {phase.name}: {cfg['max_steps']} steps{stop} from {start}")
        side = f" --set seed={seed} name={cfg['name']}" if seed is not None else ""
        lines.append(f"python -m training.train --config {shown(config_dir / phase.name)}.json"
                     f"{stop}{side} --resume")
        if phase.average:
            lines.append(f"python -m training.average_weights --out "
                         f"{shown(run_dir / 'model_avg.safetensors')} "
                         f"{shown(run_dir / 'snapshots')}/*.safetensors")
        if phase.soup_with:
            other = next(p for p in PHASES if p.name == phase.soup_with)
            lines.append(f"python -m training.average_weights --out "
                         f"{shown(run_dir / phase.output_name)} "
                         f"{shown(output_path(other, run_root, config_dir))} "
                         f"{shown(run_dir / 'model_avg.safetensors')}")
        out = run_dir / phase.output_name
        if phase.calibrate:
            lines.append(CALIBRATE.format(
                weights=shown(out), out=shown(out.with_name("model_calibrated.safetensors"))))
        lines.append(f"# phase {phase.name} output: {shown(out)}")
    return lines


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phases", default="A..T", help="e.g. A..T, D.., A-C, A,B")
    ap.add_argument("--hours", type=float, default=None, help="budget of each phase's call")
    ap.add_argument("--stop-at", type=int, default=None,
                    help="stop each phase at this step (the schedule stays the phase's)")
    ap.add_argument("--seed", type=int, default=None,
                    help="a side run with another seed (one phase; nothing chains from it)")
    ap.add_argument("--run-root", type=Path, default=REPO / RUNS)
    ap.add_argument("--build-data", action="store_true",
                    help="run each phase's data commands before it (builds resume and skip "
                         "finished shards)")
    ap.add_argument("--dry-run", action="store_true", help="print the plan, train nothing")
    args = ap.parse_args(argv)
    try:
        phases = parse_phases(args.phases)
        if args.seed is not None and len(phases) != 1:
            raise ValueError("--seed makes a side run of one phase: name one with --phases")
        lines = plan(phases, args.run_root, seed=args.seed, stop_at=args.stop_at)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print("\n".join(lines), flush=True)
    if args.dry_run:
        return
    out = None
    for phase in phases:
        if args.build_data:
            build_data(phase)
        out = run_phase(phase, args.run_root, args.hours, args.stop_at, args.seed)
    if out is not None and phases[-1].calibrate and args.seed is None and args.stop_at is None:
        print("the shipped file is unchanged; to ship the rebuilt weights:\n"
              + SHIP.format(candidate=out), flush=True)


if __name__ == "__main__":
    main()
