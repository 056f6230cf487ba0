"""Small operators behind sidebar buttons: take the editor's image, reset options to defaults,
add, remove and reorder more photos of the object."""

from __future__ import annotations

import os

import bpy
from bpy.props import CollectionProperty, EnumProperty, IntProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..client.views import MAX_VIEWS
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


class SLICE3D_OT_photo_add(bpy.types.Operator, ImportHelper):
    """Add more photos of the same object (they are fused into one mesh)"""

    bl_idname = "slice3d.photo_add"
    bl_label = "Add Photos"
    bl_options = {"REGISTER", "UNDO"}

    files: CollectionProperty(type=bpy.types.OperatorFileListElement,
                              options={"HIDDEN", "SKIP_SAVE"})
    directory: StringProperty(subtype="DIR_PATH", options={"HIDDEN", "SKIP_SAVE"})
    filter_image: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})
    filter_folder: bpy.props.BoolProperty(default=True, options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        opts = getattr(context.scene, "slice3d", None)
        if opts is None:
            return False
        if 1 + len(opts.photos) >= MAX_VIEWS:
            cls.poll_message_set(f"At most {MAX_VIEWS} photos in all (the main photo and "
                                 f"{MAX_VIEWS - 1} more)")
            return False
        return True

    def chosen_paths(self) -> list[str]:
        folder = bpy.path.abspath(self.directory) if self.directory else ""
        names = [f.name for f in self.files if f.name]
        if folder and names:
            return [os.path.join(folder, name) for name in names]
        return [bpy.path.abspath(self.filepath)] if self.filepath else []

    def execute(self, context: bpy.types.Context) -> set[str]:
        opts = props.settings(context)
        paths = self.chosen_paths()
        room = MAX_VIEWS - 1 - len(opts.photos)
        added, failed = 0, []
        for path in paths[:max(room, 0)]:
            if not os.path.isfile(path):
                failed.append(f"{os.path.basename(path)} (no such file)")
                continue
            try:
                image = bpy.data.images.load(path, check_existing=True)
            except RuntimeError as exc:  # missing or unreadable: Blender says which
                failed.append(f"{os.path.basename(path)} ({str(exc).strip() or 'unreadable'})")
                continue
            opts.photos.add().image = image
            added += 1
        if added:
            opts.photo_index = len(opts.photos) - 1
        if failed:
            self.report({"ERROR"}, "Cannot open " + ", ".join(failed))
        if len(paths) > room:
            self.report({"WARNING"}, f"At most {MAX_VIEWS} photos in all: "
                        f"{len(paths) - max(room, 0)} of the {len(paths)} chosen were not added")
        return {"FINISHED"} if added else {"CANCELLED"}


class SLICE3D_OT_photo_remove(bpy.types.Operator):
    """Remove the selected photo from the list (the image stays in the file)"""

    bl_idname = "slice3d.photo_remove"
    bl_label = "Remove Photo"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        opts = getattr(context.scene, "slice3d", None)
        return opts is not None and 0 <= opts.photo_index < len(opts.photos)

    def execute(self, context: bpy.types.Context) -> set[str]:
        opts = props.settings(context)
        opts.photos.remove(opts.photo_index)
        opts.photo_index = min(opts.photo_index, max(len(opts.photos) - 1, 0))
        return {"FINISHED"}


class SLICE3D_OT_photo_move(bpy.types.Operator):
    """Move the selected photo up or down the list (photos are numbered in this order)"""

    bl_idname = "slice3d.photo_move"
    bl_label = "Move Photo"
    bl_options = {"REGISTER", "UNDO"}

    direction: EnumProperty(items=[("UP", "Up", "Earlier in the list"),
                                   ("DOWN", "Down", "Later in the list")])
    index: IntProperty(default=-1, options={"HIDDEN", "SKIP_SAVE"})

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        opts = getattr(context.scene, "slice3d", None)
        return opts is not None and len(opts.photos) > 1

    def execute(self, context: bpy.types.Context) -> set[str]:
        opts = props.settings(context)
        index = opts.photo_index if self.index < 0 else self.index
        target = index + (-1 if self.direction == "UP" else 1)
        if not (0 <= index < len(opts.photos) and 0 <= target < len(opts.photos)):
            return {"CANCELLED"}
        opts.photos.move(index, target)
        opts.photo_index = target
        return {"FINISHED"}


CLASSES = (SLICE3D_OT_use_editor_image, SLICE3D_OT_reset_options, SLICE3D_OT_photo_add,
           SLICE3D_OT_photo_remove, SLICE3D_OT_photo_move)
