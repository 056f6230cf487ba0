"""The add-on preferences: where the backend comes from, device, and default options."""

from __future__ import annotations

import os

import bpy
from bpy.props import EnumProperty, FloatProperty, StringProperty

from ..client.contract import BACKGROUND, FLIP_AVERAGE, SILHOUETTE_FILL
from . import models, paths, props
from .state import INSTALL, MANAGER
from .widgets import backend_buttons, wrapped

MODES = [("LOCAL", "Python Interpreter", "Run the backend with a Python that has its packages"),
         ("INSTALLED", "Installed Environment",
          "Run the backend in an environment installed by this add-on"),
         ("REMOTE", "Remote Server", "Use a backend someone else runs (URL and token)")]
DEVICES = [("auto", "Auto", "CUDA when available, else CPU"), ("cuda", "CUDA", "NVIDIA GPU"),
           ("cpu", "CPU", "Processor only")]


class Slice3DPreferences(bpy.types.AddonPreferences):
    """Backend source, device and the defaults new scenes start from."""

    bl_idname = paths.ADDON_PACKAGE

    backend_mode: EnumProperty(items=MODES, name="Backend", default="LOCAL")
    python_path: StringProperty(name="Python", subtype="FILE_PATH",
                                description="Python interpreter with the backend's packages")
    server_url: StringProperty(name="Server URL", default="http://127.0.0.1:8765")
    server_token: StringProperty(name="Token", subtype="PASSWORD")
    device: EnumProperty(items=DEVICES, name="Device", default="auto")
    results_folder: StringProperty(
        name="Results Folder", subtype="DIR_PATH",
        description="Where Reconstruct keeps each result bundle (empty: a <blend name>_slice3d "
                    "folder beside the saved .blend, or the extension's user folder when the "
                    "file is unsaved)")
    startup_timeout: FloatProperty(name="Startup Timeout", default=180.0, min=10.0, max=1800.0,
                                   subtype="TIME_ABSOLUTE", unit="TIME_ABSOLUTE")
    default_resolution: props.resolution_property("Mesh Resolution")
    default_face_budget: props.face_budget_property("Face Budget")
    default_background: props.choice_property(BACKGROUND, props.BACKGROUNDS, "Background")
    default_flip_average: props.choice_property(FLIP_AVERAGE, props.FLIP_AVERAGES,
                                                "Mirror Average")
    default_silhouette_fill: props.choice_property(SILHOUETTE_FILL, props.SILHOUETTE_FILLS,
                                                   "Fill Silhouette")
    default_texture_size: props.texture_size_property("Texture Size")
    default_vertex_colors: props.vertex_colors_property("Vertex Colours Only")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "backend_mode")
        box = layout.box()
        if self.backend_mode == "LOCAL":
            box.prop(self, "python_path")
        elif self.backend_mode == "INSTALLED":
            self._draw_install(box)
        else:
            box.prop(self, "server_url")
            box.prop(self, "server_token")
            if not bpy.app.online_access:
                box.label(text="Online access is off: only a server on this computer works",
                          icon="ERROR")
        layout.prop(self, "device")
        layout.prop(self, "startup_timeout")
        backend_buttons(layout)
        layout.label(text=f"Backend: {MANAGER.status.state} {MANAGER.status.message}".strip())
        self._draw_models(layout)
        layout.prop(self, "results_folder")
        col = layout.column(heading="Defaults")
        for name in props.RESET_OPTIONS:
            col.prop(self, f"default_{name}")

    def _draw_models(self, layout: bpy.types.UILayout) -> None:
        """The background-removal model is missing where the backend reads it: say where, and
        offer to place it there (on a remote server, only the folder and the command)."""
        status = MANAGER.status
        if not models.missing(status):
            return
        box = layout.box()
        remote = self.backend_mode == "REMOTE"
        wrapped(box, models.missing_text(status, remote), icon="ERROR", width=80)
        if not remote:
            box.operator("slice3d.setup_models", icon="IMPORT")

    def _draw_install(self, box: bpy.types.UILayout) -> None:
        exists = os.path.exists(paths.venv_python())
        box.label(text=("Installed: " if exists else "Not installed yet: ") + paths.venv_dir(),
                  icon="CHECKMARK" if exists else "INFO")
        current = INSTALL.current
        if current is not None and not current.done:
            box.progress(factor=current.progress, type="BAR", text=current.label)
            box.operator("slice3d.install_cancel", icon="CANCEL")
        else:
            if current is not None and current.error:
                box.label(text=current.error, icon="ERROR")
            box.operator("slice3d.install_backend", icon="IMPORT",
                         text="Reinstall Backend Environment" if exists
                         else "Install Backend Environment")
        box.label(text="Downloads about 1-3 GB (PyTorch); the log is install.log in that folder")


CLASSES = (Slice3DPreferences,)
