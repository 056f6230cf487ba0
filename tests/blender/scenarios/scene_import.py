"""Scenario: import saved bundles (folder, result.json, zip), a subset of axes, a broken bundle."""

import glob
import os
import tempfile

import bpy
from _support import ARGS, disable, done, enable, run

TRACKED = ("objects", "meshes", "materials", "images", "cameras", "collections", "node_groups",
           "textures")


def counts() -> dict:
    return {name: len(getattr(bpy.data, name)) for name in TRACKED}


def temp_folders() -> set[str]:
    """The folders zips are extracted into (removed again after each import)."""
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "slice3d-bundle-*")))


def attempt(**kwargs) -> str:
    try:
        return "+".join(sorted(bpy.ops.slice3d.import_bundle(**kwargs)))
    except RuntimeError as exc:
        return f"ERROR {exc}"


def main() -> None:
    enable()
    out = {"menu": any(getattr(f, "__name__", "") == "menu_import"
                       for f in bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize())}
    out["folder"] = attempt(filepath=ARGS["bundle"])
    out["json"] = attempt(filepath=ARGS["bundle"] + "/result.json", import_x=False,
                          import_y=False)
    out["zip"] = attempt(filepath=ARGS["zip"])
    colls = {c.name: c for c in bpy.data.collections if c.name.startswith("Slice3D")}
    out["collections"] = sorted(colls)
    out["objects"] = {n: len(c.all_objects) for n, c in colls.items()}
    out["axes_json"] = sorted(ch.name.split(".")[0] for ch in colls["Slice3D apple.001"]
                              .children[0].children)
    before = counts()
    out["broken"] = attempt(filepath=ARGS["broken"])
    out["broken_unchanged"] = counts() == before
    out["orphans"] = [i.name for name in TRACKED for i in getattr(bpy.data, name)
                      if i.users == 0 and name != "images"]
    out["missing"] = attempt(filepath=ARGS["bundle"] + "/nothing-here")
    out["missing_unchanged"] = counts() == before
    # Ctrl+Z takes one whole import back (objects, images, materials, collections), redo restores
    # it. Background mode has no event loop, so the undo steps the UI would push around an
    # operator flagged UNDO are pushed here by hand; the flag itself is read back below.
    out["undo_flag"] = "UNDO" in bpy.types.SLICE3D_OT_import_bundle.bl_options
    bpy.ops.ed.undo_push(message="before re-import")
    out["reimport"] = attempt(filepath=ARGS["bundle"])
    bpy.ops.ed.undo_push(message="Import Slice3D bundle")
    after = counts()
    out["undo"] = "+".join(sorted(bpy.ops.ed.undo()))
    out["undo_restores"] = counts() == before
    out["undo_collections"] = sorted(c.name for c in bpy.data.collections
                                     if c.name.startswith("Slice3D"))
    out["redo"] = "+".join(sorted(bpy.ops.ed.redo()))
    out["redo_restores"] = counts() == after
    temp_before = temp_folders()
    out["folder_zip"] = attempt(filepath=ARGS["folder_zip"])
    folder_zip = bpy.data.collections.get("Slice3D apple_folder")
    out["folder_zip_objects"] = len(folder_zip.all_objects) if folder_zip else 0
    before = counts()
    out["no_bundle"] = attempt(filepath=ARGS["no_bundle"])
    out["no_bundle_unchanged"] = counts() == before
    out["temp_folders_left"] = len(temp_folders() - temp_before)
    disable()
    done(**out)


run(main)
