"""Scenario: import bundles of several photos: a camera per photo used, at its pose, showing its
photo; one-photo and old bundles as before; a broken one adds nothing; one undo step."""

import sys

import bpy
from _support import ADDON, ARGS, done, enable, run
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

TRACKED = ("objects", "meshes", "materials", "images", "cameras", "collections")


def counts() -> dict:
    return {name: len(getattr(bpy.data, name)) for name in TRACKED}


def attempt(path: str) -> str:
    try:
        return "+".join(sorted(bpy.ops.slice3d.import_bundle(filepath=path)))
    except RuntimeError as exc:
        return f"ERROR {exc}"


def camera_facts(cam) -> dict:
    scene = bpy.context.scene
    rot = cam.matrix_world.to_3x3()
    backgrounds = list(cam.data.background_images)
    image = backgrounds[0].image if backgrounds else None
    return {"matrix": [list(row) for row in cam.matrix_world],
            "centre_seen_at": list(world_to_camera_view(scene, cam, Vector((0, 0, 0))))[:2],
            "up_z": (rot @ Vector((0, 1, 0))).z, "lens": cam.data.lens,
            "sensor": cam.data.sensor_width, "show_backgrounds": cam.data.show_background_images,
            "backgrounds": len(backgrounds),
            "image_size": list(image.size) if image else None,
            "packed": bool(image and image.packed_file),
            "props": {k: cam[k] for k in cam.keys()  # noqa: SIM118 - an ID, not a dict
                      if k.startswith("slice3d_")}}


def imported(path: str) -> dict:
    before = set(bpy.data.collections)
    outcome = attempt(path)
    coll = next(c for c in bpy.data.collections if c not in before and c.name.startswith("Slice"))
    cams = sorted((o for o in coll.objects if o.type == "CAMERA"), key=lambda o: o.name)
    ext = sys.modules[ADDON]
    return {"outcome": outcome, "collection": coll.name,
            "meshes": sum(o.type == "MESH" for o in coll.all_objects),
            "cameras": {c.name: camera_facts(c) for c in cams},
            "messages": ext.scene.build.photo_messages(coll, ["front.png", "side.png"])}


def main() -> None:
    enable()
    out = {"views": imported(ARGS["views"]), "single": imported(ARGS["single"]),
           "old": imported(ARGS["old"])}
    before = counts()
    out["missing_photo"] = attempt(ARGS["missing_photo"])
    out["bad_matrix"] = attempt(ARGS["bad_matrix"])
    out["broken_unchanged"] = counts() == before
    bpy.ops.ed.undo_push(message="before import")
    out["again"] = attempt(ARGS["views"])
    bpy.ops.ed.undo_push(message="Import Slice3D bundle")
    out["undo"] = "+".join(sorted(bpy.ops.ed.undo()))
    out["undo_restores"] = counts() == before
    done(**out)


run(main)
