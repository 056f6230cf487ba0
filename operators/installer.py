"""Install Backend Environment and its Cancel: a venv with the backend's packages, in the
extension's user folder (client/env_installer.py does the work, one subprocess at a time)."""

from __future__ import annotations

import os
import sys

import bpy

from ..client.env_installer import EnvInstaller, Step, has_nvidia_gpu, install_commands
from ..ui import paths, settings
from ..ui.state import INSTALL
from .modal_base import ModalTimerOperator


class StepsOperator(ModalTimerOperator):
    """Run EnvInstaller steps (the session's INSTALL): synchronously headless, else from a timer;
    a subclass implements finish()."""

    timer_interval_s = 0.5
    _installer = None  # the EnvInstaller this operator follows

    def run_steps(self, context: bpy.types.Context, steps: list[Step], log: str) -> set[str]:
        self._installer = INSTALL.current = EnvInstaller(steps, log, paths.backend_root())
        if self.headless(context):
            self._installer.run_sync()
            return self.finish(context)
        self._installer.poll()
        return self.start_timer(context)

    def tick(self, context: bpy.types.Context) -> bool:
        self._installer.poll()
        for area in context.screen.areas if context.screen else ():
            area.tag_redraw()
        return self._installer.done

    def on_cancel(self, context: bpy.types.Context) -> None:
        if self._installer is not None:
            self._installer.cancel()


class SLICE3D_OT_install_backend(StepsOperator, bpy.types.Operator):
    """Create a Python environment for the backend in the extension's user folder and install
    its packages from the internet (PyTorch with CUDA when an NVIDIA GPU is found)"""

    bl_idname = "slice3d.install_backend"
    bl_label = "Install Backend Environment"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if not bpy.app.online_access:
            cls.poll_message_set("Online access is off (Preferences > System > Network)")
            return False
        if INSTALL.running:
            cls.poll_message_set("An installation is already running")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        log = os.path.join(paths.user_dir(), "install.log")
        # Blender's bundled interpreter is the base of the new environment.
        steps = install_commands(sys.executable, has_nvidia_gpu(), paths.install_places())
        return self.run_steps(context, steps, log)

    def finish(self, context: bpy.types.Context) -> set[str]:
        if self._installer.error:
            self.report({"ERROR"}, self._installer.error)
            return {"CANCELLED"}
        prefs = settings.addon_prefs()
        if prefs is not None:
            prefs.backend_mode = "INSTALLED"
        self.report({"INFO"}, "Backend environment installed")
        return {"FINISHED"}


class SLICE3D_OT_install_cancel(bpy.types.Operator):
    """Stop the running installation"""

    bl_idname = "slice3d.install_cancel"
    bl_label = "Cancel Installation"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return INSTALL.running

    def execute(self, context: bpy.types.Context) -> set[str]:
        INSTALL.current.cancel()
        return {"FINISHED"}


CLASSES = (SLICE3D_OT_install_backend, SLICE3D_OT_install_cancel)
