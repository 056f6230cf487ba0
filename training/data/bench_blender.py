"""Renderer choice, measured: Blender (bpy Workbench and Cycles) against our Embree caster on the
same mesh and camera. Prints seconds per input image and per 12-slice set, and the silhouette
IoU between Blender's render and ours, which cross-checks the camera contract against Blender's
own 35 mm / 32 mm camera (world = (x, -z, y) of the view frame, ARCHITECTURE.md section 4).

    python -m training.data.bench_blender [--shapes 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from backend.contract import BLENDER_CAMERA_LOCATION, LENS_MM, SENSOR_MM
from training.data.raycast import Caster
from training.data.render import render_input, render_slices, view_frame
from training.data.shading import random_look
from training.data.sources import get_source
from training.data.views import View


def _blender_scene(verts_view: np.ndarray, faces: np.ndarray, size: int):
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    world = np.stack([verts_view[:, 0], -verts_view[:, 2], verts_view[:, 1]], 1)
    me = bpy.data.meshes.new("shape")
    me.from_pydata(world.tolist(), [], faces.tolist())
    obj = bpy.data.objects.new("shape", me)
    scene.collection.objects.link(obj)
    cam = bpy.data.cameras.new("cam")
    cam.lens, cam.sensor_width, cam.sensor_fit = LENS_MM, SENSOR_MM, "HORIZONTAL"
    cam_obj = bpy.data.objects.new("cam", cam)
    cam_obj.location = BLENDER_CAMERA_LOCATION
    cam_obj.rotation_euler = (np.pi / 2, 0.0, 0.0)
    scene.collection.objects.link(cam_obj)
    scene.camera = cam_obj
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA"
    return bpy, scene, obj


def _render(bpy, scene, path: Path) -> np.ndarray:
    scene.render.filepath = str(path)
    bpy.ops.render.render(write_still=True)
    return np.asarray(Image.open(path))


def compare(n_shapes: int = 3, size: int = 256) -> None:
    src = get_source("procedural")
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for shape_id, _ in src.list_shapes(n_shapes * 4)[::4][:n_shapes]:
        rng = np.random.default_rng(0)
        shape = src.load(shape_id, rng)
        view = View(35.0, 20.0, 1.0)
        t = time.perf_counter()
        caster = Caster(shape.mesh)
        ours = render_input(caster, view, random_look(rng), size)
        t_in = time.perf_counter() - t
        t = time.perf_counter()
        render_slices(caster, view, view_frame(shape.mesh, view), 128)
        t_sl = time.perf_counter() - t
        bpy, scene, obj = _blender_scene(view.to_view(shape.mesh.vertices), shape.mesh.faces, size)
        scene.render.engine = "BLENDER_WORKBENCH"
        _render(bpy, scene, tmp / "warm.png")
        t = time.perf_counter()
        wb = _render(bpy, scene, tmp / "wb.png")
        t_wb = time.perf_counter() - t
        # a Workbench slice needs the mesh cut to its slab: time one bisect + render, times 12
        import bmesh

        t = time.perf_counter()
        bm = bmesh.new()
        bm.from_mesh(obj.data)
        bmesh.ops.bisect_plane(
            bm,
            geom=bm.verts[:] + bm.edges[:] + bm.faces[:],
            dist=1e-6,
            plane_co=(0, 0, 0),
            plane_no=(1, 0, 0),
            clear_inner=True,
        )
        cut = bpy.data.meshes.new("cut")
        bm.to_mesh(cut)
        bm.free()
        obj.data = cut
        scene.render.resolution_x = scene.render.resolution_y = 128
        _render(bpy, scene, tmp / "slice.png")
        t_wb_slice = (time.perf_counter() - t) * 12
        scene.render.resolution_x = scene.render.resolution_y = size
        obj.data = bpy.data.meshes["shape"]
        scene.render.engine = "CYCLES"
        scene.cycles.samples = 16
        scene.cycles.device = "CPU"
        t = time.perf_counter()
        _render(bpy, scene, tmp / "cy.png")
        t_cy = time.perf_counter() - t
        a, b = ours[..., 3] > 127, wb[..., 3] > 127
        iou = (a & b).sum() / max((a | b).sum(), 1)
        rows.append((shape_id, t_in, t_sl, t_wb, t_wb_slice, t_cy, iou))
    print(f"{'shape':28s} ours:input slices | workbench:input 12 slices | cycles16:input | IoU")
    for r in rows:
        print(
            f"{r[0]:28s} {r[1]:6.3f} {r[2]:6.3f} | {r[3]:6.3f} {r[4]:6.3f} | {r[5]:6.3f} | "
            f"{r[6]:.4f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shapes", type=int, default=3)
    a = ap.parse_args()
    compare(a.shapes)


if __name__ == "__main__":
    main()
