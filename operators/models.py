"""Install Background-Removal Model: place u2netp.onnx in the folder the backend reads.

The folder comes from the backend's GET /health (`models_dir`); the work is the backend's own
`<backend python> -m backend setup-models --dest <models_dir>`, one subprocess followed from a
timer (client/env_installer.py). A remote server's model is placed on the server: there the
preferences show the folder and the command only.
"""

from __future__ import annotations

import os

import bpy

from ..client.env_installer import models_setup_argv
from ..ui import backend_watch, paths, settings
from ..ui.state import INSTALL, MANAGER, UI
from .installer import StepsOperator


class SLICE3D_OT_setup_models(StepsOperator, bpy.types.Operator):
    """Place the background-removal model (u2netp) in the folder the backend reads, then restart
    the backend"""

    bl_idname = "slice3d.setup_models"
    bl_label = "Install Background-Removal Model"

    _folder = ""

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if settings.backend_config().mode == "REMOTE":
            cls.poll_message_set("A remote server's model is placed on the server: run the "
                                 "command shown there")
            return False
        if INSTALL.running:
            cls.poll_message_set("An installation is already running")
            return False
        if not MANAGER.status.models_dir:
            cls.poll_message_set("Start the backend first: it names the folder it reads")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        self._folder = MANAGER.status.models_dir
        argv = models_setup_argv(settings.backend_config().python, self._folder)
        log = os.path.join(paths.user_dir(), "setup-models.log")
        steps = [(f"Placing the background-removal model in {self._folder}", argv)]
        return self.run_steps(context, steps, log)

    def finish(self, context: bpy.types.Context) -> set[str]:
        if self._installer.error:
            message = (f"Could not place the background-removal model in {self._folder}: "
                       f"{self._installer.error}")
            UI.say(message, error=True)
            self.report({"ERROR"}, message)
            return {"CANCELLED"}
        MANAGER.stop()  # the backend checks for the model when it starts
        if self.headless(context):
            MANAGER.wait_ready()
        else:
            MANAGER.ensure_started()
            backend_watch.start()
        UI.clear_error()
        message = f"The background-removal model is in {self._folder}; the backend was restarted"
        UI.say(message)
        self.report({"INFO"}, message)
        return {"FINISHED"}


CLASSES = (SLICE3D_OT_setup_models,)
