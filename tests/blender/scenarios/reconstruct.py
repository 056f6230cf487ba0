"""Scenario: two reconstructions of the example image; reports the scene and alignment facts."""

import time

import bpy
import numpy as np
from _support import EXAMPLE, disable, done, enable, pid_alive, run
from bpy_extras.object_utils import world_to_camera_view
from mathutils import Vector

TEX = "Image Texture"


def alpha_of(image) -> np.ndarray:
    """The alpha channel; row 0 is the bottom row, like camera-view v."""
    w, h = image.size
    px = np.empty(w * h * 4, dtype=np.float32)
    image.pixels.foreach_get(px)
    return px.reshape(h, w, 4)[:, :, 3]


def dilate(mask: np.ndarray, r: int = 2) -> np.ndarray:
    out = mask.copy()
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            out |= np.roll(np.roll(mask, dy, 0), dx, 1)
    return out


def find_layer(lc, coll):
    if lc.collection == coll:
        return lc
    for child in lc.children:
        found = find_layer(child, coll)
        if found:
            return found
    return None


def slice_image(obj):
    return obj.active_material.node_tree.nodes[TEX].image


def describe(coll) -> dict:
    scene = bpy.context.scene
    objs = list(coll.all_objects)
    meshes = [o for o in coll.objects if o.type == "MESH"]
    cams = [o for o in coll.objects if o.type == "CAMERA"]
    slices = coll.children[0]
    axes = {c.name.split(".")[0]: c for c in slices.children}
    planes = [o for c in axes.values() for o in c.objects]
    layer = bpy.context.view_layer.layer_collection
    cam, mesh = cams[0], meshes[0]
    rot = cam.matrix_world.to_3x3()
    verts = np.array([mesh.matrix_world @ v.co for v in mesh.data.vertices])
    keys = ("slice3d_source", "slice3d_job", "slice3d_model")
    info = {
        "name": coll.name, "slices_name": slices.name, "axes": sorted(axes),
        "n_objects": len(objs), "mesh_count": len(meshes), "camera_count": len(cams),
        "planes": {a: sorted(o.name for o in c.objects) for a, c in axes.items()},
        "hidden": {a: bool(find_layer(layer, c).hide_viewport) for a, c in axes.items()},
        "render_hidden": {a: bool(c.hide_render) for a, c in axes.items()},
        "dims": list(mesh.dimensions), "centre": list((verts.min(0) + verts.max(0)) / 2),
        "n_verts": len(verts), "cam_loc": list(cam.location),
        "cam_dir": list(rot @ Vector((0, 0, -1))), "cam_up": list(rot @ Vector((0, 1, 0))),
        "lens": cam.data.lens, "sensor": cam.data.sensor_width,
        "props_ok": all(o.get(k) is not None for k in keys for o in objs),
        "source": mesh.get("slice3d_source"), "model": mesh.get("slice3d_model"),
        "job": mesh.get("slice3d_job"),
        "images_packed": all(slice_image(o).packed_file is not None for o in planes),
        "blend_ok": all(o.active_material.surface_render_method == "BLENDED" for o in planes),
    }
    # Every slice plane fills the camera frame exactly: its corners project to the image corners.
    worst = 0.0
    for o in planes:
        for v in o.data.vertices:
            p = world_to_camera_view(scene, cam, o.matrix_world @ v.co)
            worst = max(worst, min(abs(p.x), abs(p.x - 1)), min(abs(p.y), abs(p.y - 1)))
    info["plane_corner_error"] = worst
    # Mesh vertices seen through the camera fall inside the slice masks.
    rng = np.random.default_rng(0)
    pick = verts[rng.choice(len(verts), size=min(400, len(verts)), replace=False)]
    uv = np.array([list(world_to_camera_view(scene, cam, Vector(p)))[:2] for p in pick])
    masks = {o.name.split()[-1]: dilate(alpha_of(slice_image(o)) > 0.05) for o in planes}
    size = next(iter(masks.values())).shape[0]
    ij = np.clip((uv * size).astype(int), 0, size - 1)
    union = np.zeros((size, size), dtype=bool)
    for mask in masks.values():
        union |= mask
    info["in_union"] = float(np.mean(union[ij[:, 1], ij[:, 0]]))
    # Per Z slab: view-frame z = -world y; each vertex goes to the nearest Z plane's slice.
    zs = sorted(axes["Z"].objects, key=lambda o: o.location.y)
    centres = np.array([-o.location.y for o in zs])
    nearest = np.argmin(np.abs(-pick[:, 1][:, None] - centres[None, :]), axis=1)
    own = [masks[zs[k].name.split()[-1]][j, i] for k, (i, j) in zip(nearest, ij, strict=True)]
    info["in_own_z"] = float(np.mean(own))
    # A control: the same mesh moved sideways by its own width must mostly miss the masks
    # (points that leave the frame count as misses).
    moved = pick + np.array([mesh.dimensions.x, 0.0, 0.0])
    uv2 = np.array([list(world_to_camera_view(scene, cam, Vector(p)))[:2] for p in moved])
    inside = (uv2 >= 0).all(axis=1) & (uv2 < 1).all(axis=1)
    ij2 = np.clip((uv2 * size).astype(int), 0, size - 1)
    info["in_shifted"] = float(np.mean(inside & union[ij2[:, 1], ij2[:, 0]]))
    return info


def main() -> None:
    ext = enable()
    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y = 160, 120  # the option makes it square
    opts = scene.slice3d
    opts.image = bpy.data.images.load(EXAMPLE)
    opts.resolution, opts.square_render = "64", True
    t0 = time.time()
    outcome = bpy.ops.slice3d.reconstruct()
    seconds = time.time() - t0
    first = describe(bpy.data.collections["Slice3D apple"])
    outcome2 = bpy.ops.slice3d.reconstruct()
    colls = sorted(c.name for c in bpy.data.collections if c.name.startswith("Slice3D apple"))
    second = describe(bpy.data.collections[colls[-1]])
    first_again = len(list(bpy.data.collections["Slice3D apple"].all_objects))
    timings = dict(ext.ui.state.UI.last_timings)
    pid = ext.ui.state.MANAGER.pid
    disable()
    done(outcome=sorted(outcome), outcome2=sorted(outcome2), seconds=seconds, first=first,
         second=second, colls=colls, first_again=first_again, timings=timings,
         square=[scene.render.resolution_x, scene.render.resolution_y],
         backend_alive_after=pid_alive(pid),
         scene_camera=scene.camera.name if scene.camera else None)


run(main)
