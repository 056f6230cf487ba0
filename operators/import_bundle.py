"""Import an existing result bundle (a folder, its result.json, or the zip) into the scene."""

from __future__ import annotations

import os
import shutil
import zipfile

import bpy
from bpy.props import BoolProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..client.safe_unzip import bundle_folder
from ..scene import build
from ..ui.state import UI


class SLICE3D_OT_import_bundle(bpy.types.Operator, ImportHelper):
    """Import a Slice3D result bundle (mesh, slice planes and camera) saved earlier"""

    bl_idname = "slice3d.import_bundle"
    bl_label = "Import Slice3D Result"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json;*.zip;*.glb", options={"HIDDEN"})
    import_x: BoolProperty(name="X Slices", default=True)
    import_y: BoolProperty(name="Y Slices", default=True)
    import_z: BoolProperty(name="Z Slices", default=True)
    square_render: BoolProperty(name="Square Render", default=False,
                                description="Make the render resolution square")
    scene_camera: BoolProperty(name="Use as Scene Camera", default=True,
                               description="Make the imported photo camera the scene's camera")
    smooth_shading: BoolProperty(name="Smooth Shading", default=True,
                                 description="Shade the imported mesh smooth")

    def execute(self, context: bpy.types.Context) -> set[str]:
        path = bpy.path.abspath(self.filepath)
        try:
            folder, tmp = bundle_folder(path)
        except (OSError, zipfile.BadZipFile, ValueError) as exc:
            self.report({"ERROR"}, f"Cannot open {path}: {exc}")
            return {"CANCELLED"}
        axes = tuple(a for a in "XYZ" if getattr(self, f"import_{a.lower()}"))
        source = os.path.basename(os.path.normpath(folder if not tmp else path))
        try:
            coll = build.build_scene(context, folder, source=source, axes=axes,
                                     square_render=self.square_render,
                                     scene_camera=self.scene_camera,
                                     smooth=self.smooth_shading)
        except Exception as exc:  # noqa: BLE001 - reported; the scene is left untouched
            self.report({"ERROR"}, f"Import failed: {exc}")
            return {"CANCELLED"}
        finally:
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
        UI.last_collection = coll.name
        notes = build.photo_messages(coll)  # photos the backend left out, or warned about
        self.report({"WARNING"} if notes else {"INFO"},
                    f'Added "{coll.name}"' + "".join(f". {n.rstrip('.')}" for n in notes)
                    + ("." if notes else ""))
        return {"FINISHED"}


def menu_import(self: bpy.types.Menu, context: bpy.types.Context) -> None:
    self.layout.operator(SLICE3D_OT_import_bundle.bl_idname, text="Slice3D Result (.json/.zip)")


CLASSES = (SLICE3D_OT_import_bundle,)


def register() -> None:
    bpy.types.TOPBAR_MT_file_import.append(menu_import)


def unregister() -> None:
    bpy.types.TOPBAR_MT_file_import.remove(menu_import)
