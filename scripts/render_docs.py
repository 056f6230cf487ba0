"""Render the README's pictures of an imported result (Workbench; runs with the bpy module).

    python scripts/render_docs.py [--image examples/apple.jpg] [--out docs/blender_result.png]

Reconstructs the image through the extension (this source tree, a real backend subprocess), then
shows side by side: the input picture; the mesh with the Z slice planes through the imported camera
(they line up); the mesh from an angle; the four Z slice planes alone from the same angle.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile

import bpy
import numpy as np
from mathutils import Vector

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batch  # noqa: E402 - the same add-on loading as the batch script

SIZE = 224


def render(scene, camera, path: str) -> np.ndarray:
    scene.camera = camera
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(path)
    px = np.array(img.pixels[:], dtype=np.float32).reshape(SIZE, SIZE, 4)
    bpy.data.images.remove(img)
    return px


def picture(path: str) -> np.ndarray:
    """The input image as a square panel (it is square in the examples)."""
    img = bpy.data.images.load(path)
    img.scale(SIZE, SIZE)
    px = np.array(img.pixels[:], dtype=np.float32).reshape(SIZE, SIZE, img.channels)
    bpy.data.images.remove(img)
    if px.shape[2] == 3:
        px = np.concatenate([px, np.ones_like(px[:, :, :1])], axis=2)
    return px


def orbit_camera(contract, name: str, azimuth_deg: float, elevation_deg: float, distance: float):
    """A camera looking at the origin from the given angle (0 deg = the input view), with the
    contract's lens and sensor."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    loc = (distance * math.cos(el) * math.sin(az), -distance * math.cos(el) * math.cos(az),
           distance * math.sin(el))
    cam = bpy.data.objects.new(name, bpy.data.cameras.new(name))
    cam.data.lens = contract.LENS_MM
    cam.data.sensor_width = contract.SENSOR_MM
    cam.location = loc
    direction = -np.array(loc)
    cam.rotation_euler = Vector(direction).to_track_quat("-Z", "Y").to_euler()
    bpy.context.scene.collection.objects.link(cam)
    return cam


def set_visible(build, coll_by_axis: dict, visible: set[str]) -> None:
    """Show only the slice collections of the `visible` axes (viewport and render)."""
    layer = bpy.context.view_layer.layer_collection
    for axis, coll in coll_by_axis.items():
        build.find_layer_collection(layer, coll).hide_viewport = axis not in visible
        coll.hide_render = axis not in visible


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", default=os.path.join(batch.ROOT, "examples", "apple.jpg"))
    parser.add_argument("--out", default=os.path.join(batch.ROOT, "docs", "blender_result.png"))
    parser.add_argument("--resolution", default="128",
                        help="the grid of the README picture (128, quicker than the default)")
    args = parser.parse_args(batch.script_args())
    addon = batch.load_addon()
    if not addon.ui.settings.backend_config().python:
        os.environ["SLICE3D_PYTHON"] = sys.executable
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    scene = bpy.context.scene
    scene.slice3d.image = bpy.data.images.load(os.path.abspath(args.image))
    scene.slice3d.resolution = args.resolution
    try:
        bpy.ops.slice3d.reconstruct()
    finally:
        addon.ui.state.MANAGER.stop()
    root = next(c for c in bpy.data.collections if c.name.startswith("Slice3D"))
    axes = {c.name.split(".")[0]: c for c in root.children[0].children}
    input_cam = next(o for o in root.objects if o.type == "CAMERA")
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.resolution_x = scene.render.resolution_y = SIZE
    scene.render.film_transparent = False
    shading = scene.display.shading
    shading.light, shading.color_type = "STUDIO", "TEXTURE"
    shading.show_backface_culling = False
    if scene.world is not None:
        scene.world.color = (0.16, 0.16, 0.17)
    mesh = next(o for o in root.objects if o.type == "MESH")
    tint = bpy.data.materials.new("Docs Mesh")
    tint.diffuse_color = (0.85, 0.45, 0.25, 1.0)
    mesh.data.materials.clear()
    mesh.data.materials.append(tint)
    build = addon.scene.build
    angle_cam = orbit_camera(addon.client.contract, "Docs Angle", 40.0, 20.0, 1.6)
    panels = [picture(os.path.abspath(args.image))]
    with tempfile.TemporaryDirectory() as tmp:
        set_visible(build, axes, {"Z"})
        panels.append(render(scene, input_cam, os.path.join(tmp, "a.png")))
        set_visible(build, axes, set())
        panels.append(render(scene, angle_cam, os.path.join(tmp, "b.png")))
        set_visible(build, axes, {"Z"})
        mesh.hide_render = True
        panels.append(render(scene, angle_cam, os.path.join(tmp, "c.png")))
    strip = np.concatenate(panels, axis=1)
    out = bpy.data.images.new("docs", strip.shape[1], strip.shape[0], alpha=True)
    out.pixels = strip.ravel()
    settings = scene.render.image_settings
    settings.file_format, settings.color_mode, settings.compression = "PNG", "RGB", 100
    settings.color_management = "OVERRIDE"  # the pixels are already display-referred
    settings.view_settings.view_transform = "Standard"
    out.save_render(os.path.abspath(args.out), scene=scene)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    batch.exit_now(main())
