"""Scenario: a first Reconstruct of a JPEG photo on a fresh profile in one backend mode.

ARGS: mode (LOCAL | INSTALLED | REMOTE), python (LOCAL), venv_target (INSTALLED: the folder the
extension's venv/ is made a link to), server_url and token (REMOTE), blend (save the file there
first, or ""), results_folder (the preference, or ""), export_dir.
"""

import os

import bpy
from _support import ARGS, EXAMPLE, call, disable, done, enable, run


def reconstruct(ext) -> tuple[list[str], str]:
    outcome = call(bpy.ops.slice3d.reconstruct)
    return outcome, ext.ui.state.UI.last_message


def main() -> None:
    ext = enable()
    prefs = bpy.context.preferences.addons[ext.__name__].preferences
    prefs.backend_mode = ARGS["mode"]
    prefs.python_path = ARGS.get("python", "")
    prefs.server_url, prefs.server_token = ARGS.get("server_url", ""), ARGS.get("token", "")
    prefs.results_folder = ARGS.get("results_folder", "")
    scene = bpy.context.scene
    opts = scene.slice3d
    opts.image = bpy.data.images.load(EXAMPLE)
    opts.resolution = "64"
    facts = {}
    if ARGS["mode"] == "INSTALLED":  # first without the environment: what does it say?
        facts["before_install"] = reconstruct(ext)
        os.symlink(ARGS["venv_target"], ext.ui.paths.venv_dir())
    if ARGS.get("blend"):
        bpy.ops.wm.save_as_mainfile(filepath=ARGS["blend"])
    outcome, message = reconstruct(ext)
    coll = bpy.data.collections.get("Slice3D apple")
    mesh = next(o for o in coll.objects if o.type == "MESH") if coll else None
    kept = coll.get("slice3d_bundle") if coll else None
    facts.update(
        outcome=outcome, message=message, kept=kept,
        kept_files=sorted(os.listdir(kept)) if kept else [],
        faces=len(mesh.data.polygons) if mesh else 0,
        smooth=all(p.use_smooth for p in mesh.data.polygons) if mesh else None,
        scene_camera=scene.camera.name if scene.camera else None,
        status=ext.ui.state.MANAGER.status.state)
    if kept:  # re-import the kept bundle, then export its mesh with Blender's own exporters
        again = sorted(bpy.ops.slice3d.import_bundle(filepath=os.path.join(kept, "result.json")))
        new = next(c for c in bpy.data.collections if c.name == "Slice3D apple.001")
        mesh2 = next(o for o in new.objects if o.type == "MESH")
        bpy.ops.object.select_all(action="DESELECT")
        mesh2.select_set(True)
        bpy.context.view_layer.objects.active = mesh2
        obj_path = os.path.join(ARGS["export_dir"], "apple.obj")
        glb_path = os.path.join(ARGS["export_dir"], "apple.glb")
        obj = sorted(bpy.ops.wm.obj_export(filepath=obj_path, export_selected_objects=True,
                                           export_materials=False))
        glb = sorted(bpy.ops.export_scene.gltf(filepath=glb_path, use_selection=True))
        with open(obj_path) as fh:
            obj_faces = sum(1 for ln in fh if ln.startswith("f "))
        facts.update(reimport=again, reimported_faces=len(mesh2.data.polygons), obj=obj, glb=glb,
                     obj_faces=obj_faces, glb_bytes=os.path.getsize(glb_path))
    disable()
    done(**facts)


run(main)
