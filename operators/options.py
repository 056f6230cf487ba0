"""Small helpers behind sidebar buttons: take the editor's image, reset options to defaults."""

from __future__ import annotations

import bpy

from . import image_source, props, settings


class SLICE3D_OT_use_editor_image(bpy.types.Operator):
    """Use the image shown in this Image Editor"""

    bl_idname = "slice3d.use_editor_image"
    bl_label = "Use Active Image"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        if image_source.editor_image(context) is None:
            cls.poll_message_set("This Image Editor shows no image")
            return False
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        props.settings(context).image = image_source.editor_image(context)
        return {"FINISHED"}


class SLICE3D_OT_reset_options(bpy.types.Operator):
    """Set the options to the defaults from the add-on preferences"""

    bl_idname = "slice3d.reset_options"
    bl_label = "Reset to Defaults"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = settings.addon_prefs()
        opts = props.settings(context)
        opts.resolution = getattr(prefs, "default_resolution", "128")
        opts.face_budget = getattr(prefs, "default_face_budget", 200000)
        opts.background = getattr(prefs, "default_background", "auto")
        opts.flip_average = getattr(prefs, "default_flip_average", "auto")
        opts.silhouette_fill = getattr(prefs, "default_silhouette_fill", "auto")
        opts.import_x = opts.import_y = opts.import_z = True
        return {"FINISHED"}


CLASSES = (SLICE3D_OT_use_editor_image, SLICE3D_OT_reset_options)
