"""Photo-like input images: a Cycles path-traced render of a shape lit only by an HDRI.

The ray-cast input (render.py) is fast but its lighting is a few analytic lights; a model chosen
on it may not be the one that does best on photographs. This renders the same mesh, with its own
appearance (texture + UVs, else vertex colours, else a plain principled material), from exactly
the training camera (ARCHITECTURE.md section 4: 35 mm lens on a 32 mm sensor, 1.2 units away,
world = (x, -z, y) of the view frame), so its alpha overlays the ray-cast silhouette.

``bpy`` is imported only when a render is asked for: the rest of the data engine never needs it.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from backend.contract import BLENDER_CAMERA_LOCATION, LENS_MM, SENSOR_MM
from backend.srgb import srgb_to_linear
from training.data.mesh import ShapeMesh
from training.data.views import View

SAMPLES = 16  # with the denoiser: clean enough at 256 px, about 1 s per image on one core
GREY = (0.6, 0.6, 0.6)  # sRGB base colour when the caller gives none


def hdri_dir() -> Path:
    """The world HDRIs that ship in the installed bpy wheel (``<bpy>/<ver>/datafiles/...``)."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or spec.origin is None:
        raise RuntimeError("the bpy module is not installed")
    found = sorted(Path(spec.origin).parent.glob("*/datafiles/studiolights/world"))
    if not found:
        raise RuntimeError(f"no studiolights/world folder under {Path(spec.origin).parent}")
    return found[-1]


def list_hdris() -> list[Path]:
    """Every ``.exr`` world HDRI of the bpy wheel, sorted by name (a stable choice order)."""
    return sorted(hdri_dir().glob("*.exr"))


def _add_mesh(bpy, mesh: ShapeMesh, view: View):
    """The mesh in Blender's world: view frame (x, y, z) -> world (x, -z, y)."""
    v = view.to_view(mesh.vertices)
    world = np.stack([v[:, 0], -v[:, 2], v[:, 1]], 1).astype(np.float32)
    faces = mesh.faces.astype(np.int32)
    me = bpy.data.meshes.new("shape")
    me.vertices.add(len(world))
    me.vertices.foreach_set("co", world.ravel())
    me.loops.add(faces.size)
    me.loops.foreach_set("vertex_index", faces.ravel())
    me.polygons.add(len(faces))
    me.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    me.update()
    if mesh.meta.get("smooth", True):  # the ray caster's 45 degree crease rule (shading.py)
        me.shade_smooth()
        me.set_sharp_from_angle(angle=np.pi / 4)
    if mesh.uv is not None:
        uv = me.uv_layers.new(name="UV")
        uv.data.foreach_set("uv", mesh.uv[faces.ravel()].astype(np.float32).ravel())
    if mesh.vertex_colors is not None:
        col = me.color_attributes.new("Col", "FLOAT_COLOR", "POINT")
        lin = srgb_to_linear(np.clip(mesh.vertex_colors, 0, 1))
        rgba = np.concatenate([lin, np.ones((len(lin), 1))], 1).astype(np.float32)
        col.data.foreach_set("color", rgba.ravel())
    obj = bpy.data.objects.new("shape", me)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def _texture_image(bpy, tex: np.ndarray):
    """A Blender image from a uint8 texture (row 0 is the top, as materials.sample_bilinear
    reads it; Blender stores rows bottom-up)."""
    h, w = tex.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = tex[..., :3] / 255.0
    if tex.shape[2] == 4:
        rgba[..., 3] = tex[..., 3] / 255.0
    img = bpy.data.images.new("texture", w, h, alpha=True)
    img.pixels.foreach_set(rgba[::-1].ravel())
    img.pack()
    return img


def _material(bpy, mesh: ShapeMesh, base_color, roughness: float, metallic: float):
    """A principled material fed by the mesh's texture or vertex colours, else ``base_color``."""
    mat = bpy.data.materials.new("surface")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    if mesh.texture is not None and mesh.uv is not None:
        tex = nodes.new("ShaderNodeTexImage")
        tex.image = _texture_image(bpy, mesh.texture)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    elif mesh.vertex_colors is not None:
        attr = nodes.new("ShaderNodeAttribute")
        attr.attribute_name = "Col"
        links.new(attr.outputs["Color"], bsdf.inputs["Base Color"])
    else:
        lin = srgb_to_linear(np.clip(np.asarray(base_color, np.float64), 0, 1))
        bsdf.inputs["Base Color"].default_value = (*lin.tolist(), 1.0)
    return mat


VIEW_TO_BLENDER = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # (x, -z, y)


def world_matrix(view: View, rotation_deg: float) -> np.ndarray:
    """Blender-world direction -> the HDRI's direction, so that the map stays upright around the
    object (its sky above the object's up, as the ray caster lights it), not around the camera:
    the mesh is placed in the view frame, so without this an elevated view tilts the sky."""
    a = np.radians(rotation_deg)
    turn = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return turn @ VIEW_TO_BLENDER @ view.rotation.T @ VIEW_TO_BLENDER.T


def _world(bpy, hdri: Path, view: View, rotation_deg: float, strength: float) -> None:
    """The only light: the HDRI, upright in the object's frame and turned ``rotation_deg``
    about the object's up axis."""
    from mathutils import Matrix

    world = bpy.data.worlds.new("world")
    world.use_nodes = True
    nodes, links = world.node_tree.nodes, world.node_tree.links
    coord = nodes.new("ShaderNodeTexCoord")
    mapping = nodes.new("ShaderNodeMapping")  # type POINT: out = R(euler) @ in
    euler = Matrix(world_matrix(view, rotation_deg).tolist()).to_euler("XYZ")
    mapping.inputs["Rotation"].default_value = tuple(euler)
    env = nodes.new("ShaderNodeTexEnvironment")
    env.image = bpy.data.images.load(str(hdri), check_existing=True)
    world.cycles.sampling_method = "MANUAL"  # the automatic map takes ~10 s on one core
    world.cycles.sample_map_resolution = 256
    bg = nodes["Background"]
    bg.inputs["Strength"].default_value = strength
    links.new(coord.outputs["Generated"], mapping.inputs["Vector"])
    links.new(mapping.outputs["Vector"], env.inputs["Vector"])
    links.new(env.outputs["Color"], bg.inputs["Color"])
    bpy.context.scene.world = world


def _camera(bpy) -> None:
    """The training camera (ARCHITECTURE.md section 4), as bench_blender checks it."""
    cam = bpy.data.cameras.new("cam")
    cam.lens, cam.sensor_width, cam.sensor_fit = LENS_MM, SENSOR_MM, "HORIZONTAL"
    cam_obj = bpy.data.objects.new("cam", cam)
    cam_obj.location = BLENDER_CAMERA_LOCATION
    cam_obj.rotation_euler = (np.pi / 2, 0.0, 0.0)
    bpy.context.scene.collection.objects.link(cam_obj)
    bpy.context.scene.camera = cam_obj


def _settings(scene, size: int, samples: int, threads: int, denoise: bool) -> None:
    r = scene.render
    r.engine = "CYCLES"
    r.resolution_x = r.resolution_y = size
    r.resolution_percentage = 100
    r.film_transparent = True
    r.image_settings.file_format = "PNG"
    r.image_settings.color_mode = "RGBA"
    r.image_settings.color_depth = "8"
    r.threads_mode = "FIXED" if threads > 0 else "AUTO"
    if threads > 0:
        r.threads = threads
    scene.view_settings.view_transform = "Standard"  # texture colours stay as authored
    c = scene.cycles
    c.device = "CPU"
    c.samples = samples
    c.use_adaptive_sampling = True
    c.use_denoising = denoise
    c.denoiser = "OPENIMAGEDENOISE"
    c.denoising_quality = "FAST"  # the default "HIGH" costs ~5 s a 256 px image on one core
    c.denoising_prefilter = "FAST"
    c.max_bounces, c.diffuse_bounces, c.glossy_bounces = 6, 2, 2
    c.transmission_bounces, c.transparent_max_bounces = 4, 4


def render_cycles(
    mesh: ShapeMesh,
    view: View,
    hdri: Path,
    rotation_deg: float,
    strength: float,
    size: int = 256,
    samples: int = SAMPLES,
    *,
    base_color: tuple[float, float, float] | np.ndarray = GREY,
    roughness: float = 0.5,
    metallic: float = 0.0,
    threads: int = 1,
    denoise: bool = True,
) -> np.ndarray:
    """The RGBA image, uint8 [size, size, 4], straight alpha, transparent film.

    ``base_color`` (sRGB), ``roughness`` and ``metallic`` shape the plain material of meshes
    with neither texture nor vertex colours. ``threads`` 0 lets Cycles use every core."""
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    _settings(scene, size, samples, threads, denoise)
    obj = _add_mesh(bpy, mesh, view)
    obj.data.materials.append(_material(bpy, mesh, base_color, roughness, metallic))
    _world(bpy, hdri, view, rotation_deg, strength)
    _camera(bpy)
    fd, name = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        scene.render.filepath = name
        bpy.ops.render.render(write_still=True)
        with Image.open(name) as im:
            return np.asarray(im.convert("RGBA")).copy()
    finally:
        os.unlink(name)
