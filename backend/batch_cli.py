"""The `batch` subcommand's flags and entry point, kept light: nothing heavy is imported until the
command runs, so registering it costs the other commands (`serve` above all) no start-up time."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from . import contract
from .errors import BackendError

DEFAULT_MAX_ATTEMPTS = 3


def add_parser(sub: argparse._SubParsersAction,
               add_option_arguments: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register `batch` with the reconstruction flags (passed in: cli.py owns them)."""
    bat = sub.add_parser(
        "batch", help="every image in a folder tree to OUT/<relative folder>/<stem>/ bundles",
        description="Reconstruct every image (PNG, JPEG, WebP, TIFF) under INPUT_DIR into "
                    "OUT/<relative folder>/<image stem>/. Finished bundles are skipped, each "
                    "image's outcome goes to OUT/batch_summary.jsonl, exit 1 if any failed. "
                    "See docs/BATCH.md.")
    bat.add_argument("input_dir", type=Path, metavar="INPUT_DIR")
    bat.add_argument("-o", "--output", type=Path, required=True, metavar="OUT")
    bat.add_argument("--ray", metavar="ADDRESS",
                     help="run on a Ray cluster: 'auto' (the cluster this node belongs to), "
                          "HOST:PORT of its head, or 'local' (start one for this run only)")
    bat.add_argument("--workers", type=_positive_int, metavar="N",
                     help="Ray actors, one loaded model each (default: one per GPU, else one "
                          "per --cpus-per-worker CPUs of the cluster)")
    bat.add_argument("--cpus-per-worker", type=_positive_int, default=1, metavar="N",
                     help="CPUs (and torch threads) each CPU actor asks for (default 1)")
    bat.add_argument("--max-attempts", type=_positive_int, default=DEFAULT_MAX_ATTEMPTS,
                     metavar="N", help="tries per image when a Ray worker dies under it "
                                       f"(default {DEFAULT_MAX_ATTEMPTS})")
    bat.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    add_option_arguments(bat)


def command(args: argparse.Namespace) -> int:
    """Check the options and folders before anything heavy loads, then run locally or on Ray."""
    from .batch import check_folders, run_batch, run_local
    from .options import ReconstructOptions

    if args.ray is None and args.workers is not None:
        raise BackendError("bad_options", "--workers needs --ray (without it the batch runs in "
                           "this one process).")
    options = ReconstructOptions(**{spec.name: getattr(args, spec.name)
                                    for spec in contract.OPTIONS if spec.name != "name"})
    check_folders(args.input_dir, args.output)
    _prepare_output(args.output)
    if args.ray is None:
        return run_batch(args.input_dir, args.output, options,
                         lambda tasks, opts, emit: run_local(tasks, opts, args.device, emit))
    from .ray_batch import RaySettings, ray_runner

    settings = RaySettings(address=args.ray, workers=args.workers, device=args.device,
                           cpus_per_worker=args.cpus_per_worker, max_attempts=args.max_attempts)
    with ray_runner(settings) as runner:
        return run_batch(args.input_dir, args.output, options, runner)


def _prepare_output(output: Path) -> None:
    """OUT is created up front, so a typo fails in a second, not after the workers start."""
    if output.exists() and not output.is_dir():
        raise BackendError("bad_options", f"-o {output} is a file, not a folder.")
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / f".slice3d-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise BackendError("bad_options",
                           f"Cannot write in the output folder {output}: {exc.strerror}.") from exc


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value})")
    return value
