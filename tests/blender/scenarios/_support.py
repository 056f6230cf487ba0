"""Shared by the scenario scripts, which run in a fresh process with the bpy module."""

from __future__ import annotations

import importlib
import json
import os
import sys
import traceback

import bpy

addon_utils = importlib.import_module("addon_utils")  # importable only once bpy is loaded

ADDON = "bl_ext.user_default.slice3d"
ARGS: dict = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
EXAMPLE = ARGS.get("example", "")
# auto = the shipped network when its weights exist; "baseline" tests the Blender side alone.
PREDICTOR = os.environ.get("SLICE3D_TEST_PREDICTOR", "auto")


def enable():
    """Enable the installed extension (like ticking it in Preferences); returns its module."""
    addon_utils.enable(ADDON, default_set=True, handle_error=None)
    bpy.context.scene.slice3d.predictor = PREDICTOR
    return sys.modules[ADDON]


def call(op) -> list[str]:
    """Run an operator; one that reports an error raises under bpy: its outcome is CANCELLED."""
    try:
        return sorted(op())
    except RuntimeError:
        return ["CANCELLED"]


def disable() -> None:
    addon_utils.disable(ADDON, default_set=True)


def done(**result) -> None:
    """Report the scenario's findings as one JSON line."""
    print("RESULT:" + json.dumps(result, default=str), flush=True)


def finish(code: int = 0) -> None:
    """Leave at once: bpy 4.5 as a module can deadlock in a C++ destructor on a normal exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def run(main) -> None:
    """Run main(); any exception is printed and gives exit code 3."""
    try:
        main()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
        addon = sys.modules.get(ADDON)
        if addon is not None:  # never leave a backend behind a failed scenario
            addon.ui.state.MANAGER.stop()
        finish(3)
    finish(0)


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return ") Z" not in fh.read()
    except OSError:
        return True
