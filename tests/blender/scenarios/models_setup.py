"""Scenario: the backend reads its background-removal model from a folder that lacks it
(SLICE3D_MODELS_DIR). The sidebar/preferences text names that folder; Install Background-Removal
Model places the model there with the backend's own setup-models; then a JPEG reconstructs.
ARGS: models_dir (the empty folder the backend reads)."""

import os
import sys

import bpy
from _support import ARGS, EXAMPLE, call, disable, done, enable, run


def main() -> None:
    ext = enable()
    manager, ui, models = ext.ui.state.MANAGER, ext.ui.state.UI, ext.ui.models
    prefs = bpy.context.preferences.addons[ext.__name__].preferences
    prefs.backend_mode, prefs.python_path = "LOCAL", sys.executable
    opts = bpy.context.scene.slice3d
    opts.image = bpy.data.images.load(EXAMPLE)
    opts.resolution = "64"
    facts = {"start": sorted(bpy.ops.slice3d.backend_start())}
    status = manager.status
    facts.update(models_dir=status.models_dir, ready=status.background_removal_ready,
                 missing=models.missing(status), local_text=models.missing_text(status, False),
                 remote_text=models.missing_text(status, True))
    facts["failed"] = call(bpy.ops.slice3d.reconstruct)
    facts["failed_message"] = ui.last_message
    prefs.backend_mode = "REMOTE"
    facts["remote_poll"] = bpy.ops.slice3d.setup_models.poll()
    prefs.backend_mode = "LOCAL"
    facts["local_poll"] = bpy.ops.slice3d.setup_models.poll()
    facts["setup"] = sorted(bpy.ops.slice3d.setup_models())
    facts.update(setup_message=ui.last_message, placed=os.path.isfile(
        os.path.join(ARGS["models_dir"], "u2netp.onnx")),
        ready_after=manager.status.background_removal_ready)
    facts["works"] = sorted(bpy.ops.slice3d.reconstruct())
    disable()
    done(**facts)


run(main)
