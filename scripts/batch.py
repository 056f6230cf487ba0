"""Headless batch: reconstruct images into result bundles (and optionally one .blend).

    blender -b --python scripts/batch.py -- --input DIR_OR_FILES... --output DIR [--blend out.blend]
    python scripts/batch.py --input ... --output ...        (with the bpy module installed)

Writes OUTPUT/<image stem>/ for every image that worked, goes on after failures, prints a summary
line at the end and exits non-zero if any input failed. An object folder (a folder holding a
views.json that lists 2 to 6 photos of one object, with their azimuths and elevations when known:
docs/BATCH.md) is one input: one reconstruction from all its photos, kept as OUTPUT/<folder
name>/; a folder given as input contributes its images and its object sub-folders. Uses the
installed Slice3D extension when it is enabled, else this source tree. The reconstruction
options, their defaults, choices and help come from the contract (client/contract.py).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import shutil
import sys
import time

import bpy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The reconstruction options a batch sends (keep_sdf and name are not the batch's to choose).
JOB_OPTIONS = ("resolution", "face_budget", "background", "predictor", "flip_average",
               "silhouette_fill", "texture_size", "vertex_colors")


def contract():
    """client/contract.py of this tree, loaded on its own (before the add-on is)."""
    name = "slice3d_batch_contract"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, os.path.join(ROOT, "client", "contract.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[name]


def add_option(parser: argparse.ArgumentParser, spec) -> None:
    """One reconstruction option with the contract's flag, type, choices, default and help."""
    kwargs = {"default": spec.default, "help": spec.help}
    if isinstance(spec.default, bool):
        parser.add_argument(spec.flag, action="store_true", help=spec.help)
        return
    if spec.choices:
        kwargs["choices"] = spec.choices
    else:
        kwargs["type"] = type(spec.default)
    parser.add_argument(spec.flag, **kwargs)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="batch.py", description=__doc__.splitlines()[0])
    parser.add_argument("--input", nargs="+", required=True,
                        help="image files, object folders (views.json) and/or folders of them")
    parser.add_argument("--output", required=True, help="folder for the result bundles")
    parser.add_argument("--blend", help="also import every result and save this .blend")
    specs = {spec.name: spec for spec in contract().OPTIONS}
    for name in JOB_OPTIONS:
        add_option(parser, specs[name])
    parser.add_argument("--axes", default="XYZ", help="slice axes to import with --blend")
    parser.add_argument("--python", help="backend interpreter (else preferences or this Python)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"))
    parser.add_argument("--server-url", help="use a running backend instead of starting one")
    parser.add_argument("--token", default="", help="token for --server-url")
    return parser.parse_args(argv)


def script_args() -> list[str]:
    """Arguments after `--` under Blender; all arguments under the bpy module."""
    return sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else sys.argv[1:]


def load_addon():
    """The enabled Slice3D extension's module, or this source tree registered as `slice3d`."""
    for name in [addon.module for addon in bpy.context.preferences.addons]:
        if name == "slice3d" or name.endswith(".slice3d"):
            return importlib.import_module(name)
    if "slice3d" in sys.modules:
        return sys.modules["slice3d"]
    spec = importlib.util.spec_from_file_location(
        "slice3d", os.path.join(ROOT, "__init__.py"), submodule_search_locations=[ROOT])
    module = importlib.util.module_from_spec(spec)
    sys.modules["slice3d"] = module
    spec.loader.exec_module(module)
    module.register()
    return module


def configure(args: argparse.Namespace, addon) -> None:
    """Command-line choices go in through the add-on's environment overrides."""
    if args.server_url:
        os.environ["SLICE3D_SERVER_URL"], os.environ["SLICE3D_TOKEN"] = args.server_url, args.token
    elif args.python:
        os.environ["SLICE3D_PYTHON"] = args.python
    elif not addon.ui.settings.backend_config().python and not bpy.app.binary_path:
        os.environ["SLICE3D_PYTHON"] = sys.executable  # the bpy module's own interpreter
    if args.device:
        os.environ["SLICE3D_DEVICE"] = args.device


def main() -> int:
    args = parse_args(script_args())
    addon = load_addon()
    configure(args, addon)
    inputs = addon.client.batch.collect_inputs(args.input)
    if not inputs:
        print("Slice3D batch: no input images or object folders found", file=sys.stderr)
        return 2
    options = addon.client.remote_job.JobOptions(**{n: getattr(args, n) for n in JOB_OPTIONS})
    state = addon.ui.state

    def start_job(image: bytes, name: str, more_images=None, poses=None):
        return state.start_job(image, name, options, more_images, poses)

    axes = tuple(a for a in "XYZ" if a in args.axes.upper()) if args.blend else None
    started = time.monotonic()
    try:
        results = addon.scene.batch.run_batch(bpy.context, inputs, os.path.abspath(args.output),
                                              start_job, axes,
                                              log=lambda line: print(line, flush=True))
        if args.blend and any(r.ok for r in results):
            bpy.ops.wm.save_as_mainfile(filepath=os.path.abspath(args.blend), compress=True)
    finally:
        state.MANAGER.release()  # a backend it found serves someone else
    good = sum(r.ok for r in results)
    failed = len(results) - good
    print(f"Slice3D batch: {good} ok, {failed} failed of {len(results)} images in "
          f"{time.monotonic() - started:.1f} s -> {os.path.abspath(args.output)}"
          + (f" (+ {args.blend})" if args.blend and good else ""), flush=True)
    return 1 if failed else 0


def exit_now(code: int) -> None:
    """Exit with `code`. Under the bpy module (4.5) a normal interpreter exit can deadlock in a
    C++ static destructor (bpy's delayed-close thread), so skip those once our work is flushed."""
    sys.stdout.flush()
    sys.stderr.flush()
    if not bpy.app.binary_path:
        remove_session_tempdir()  # what a normal exit would do, skipped by os._exit
        os._exit(code)
    sys.exit(code)


def remove_session_tempdir() -> None:
    """Blender's own session folder (TMPDIR/blender_XXXXXX/), made at startup for this process."""
    folder = os.path.normpath(bpy.app.tempdir or "")
    if os.path.basename(folder).startswith("blender_") and os.path.isdir(folder):
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    try:
        exit_code = main()
    except KeyboardInterrupt:  # Ctrl+C: the running job was cancelled on the backend; one line
        print("Slice3D batch: interrupted (Ctrl+C); the running job was cancelled",
              file=sys.stderr, flush=True)
        exit_code = 130
    except Exception:  # noqa: BLE001 - report and exit non-zero without the exit deadlock
        import traceback

        traceback.print_exc()
        exit_code = 3
    exit_now(exit_code)
