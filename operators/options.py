"""Small operators behind sidebar buttons: take the editor's image, reset options to defaults."""

from __future__ import annotations

import bpy

from ..scene import image_source
from ..ui import props, settings


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
        props.reset_options(props.settings(context), settings.addon_prefs())
        return {"FINISHED"}


CLASSES = (SLICE3D_OT_use_editor_image, SLICE3D_OT_reset_options)
