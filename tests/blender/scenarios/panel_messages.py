"""Scenario: a backend Python without the packages, then a good one after Restart Backend.
ARGS: bare (a Python without the backend's packages), good (one with them)."""

import bpy
from _support import ARGS, EXAMPLE, call, disable, done, enable, run


def main() -> None:
    ext = enable()
    manager, ui = ext.ui.state.MANAGER, ext.ui.state.UI
    prefs = bpy.context.preferences.addons[ext.__name__].preferences
    prefs.backend_mode, prefs.python_path = "LOCAL", ARGS["bare"]
    opts = bpy.context.scene.slice3d
    opts.image = bpy.data.images.load(EXAMPLE)
    opts.resolution = "64"
    failed = call(bpy.ops.slice3d.reconstruct)
    facts = {"failed": failed, "failed_message": ui.last_message, "failed_error": ui.last_error,
             "status_message": manager.status.message}
    prefs.python_path = ARGS["good"]
    facts["restart"] = sorted(bpy.ops.slice3d.backend_restart())
    facts.update(after_message=ui.last_message, after_status=manager.status.state,
                 after_status_message=manager.status.message)
    disable()
    done(**facts)


run(main)
