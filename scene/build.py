"""Build the scene from a result bundle (the scene contract, docs/ARCHITECTURE.md): mesh, camera,
slice planes, one collection; with several photos, one more camera per photo used, at its pose.

Everything is created inside a fresh collection; on any exception every datablock created since
the start is removed again, so a failed import leaves no orphan meshes, images or materials.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import bpy
from mathutils import Matrix

from ..client.contract import (
    CAMERA_DISTANCE,
    FOCAL_NDC,
    LENS_MM,
    SENSOR_MM,
    SLICE_AXES,
    frustum_half_width,
    view_to_blender,
)
from ..client.views import unused_photos, view_entries

FACING_CAMERA = (math.pi / 2.0, 0.0, 0.0)  # local -Z looks along world +Y, local +Y is world +Z
SHARP_ANGLE = math.radians(30.0)  # smooth shading keeps edges sharper than this (box corners)
TEXTURE_FILE = "texture.png"  # the bundle's base-colour texture (docs/API.md)
ROUGHNESS = 0.8  # the photo's colours already hold its highlights: a matte surface

# bpy.data collections whose new members are removed again when an import fails.
_TRACKED = ("objects", "meshes", "materials", "images", "cameras", "collections", "node_groups",
            "textures", "actions", "lights", "armatures", "curves")


class BundleError(RuntimeError):
    """The bundle is missing a file or its result.json does not make sense."""


def read_result(bundle_dir: str) -> dict:
    """Load and sanity-check result.json of a bundle folder."""
    path = os.path.join(bundle_dir, "result.json")
    if not os.path.isfile(path):
        raise BundleError(f"Not a Slice3D result bundle (no result.json): {bundle_dir}")
    with open(path, encoding="utf-8") as fh:
        result = json.load(fh)
    if not os.path.isfile(os.path.join(bundle_dir, "mesh.glb")):
        raise BundleError(f"The bundle has no mesh.glb: {bundle_dir}")
    return result


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Remove every datablock created inside the block if the block raises."""
    before = {name: set(getattr(bpy.data, name)) for name in _TRACKED}
    try:
        yield
    except BaseException:
        new = [idb for name in _TRACKED for idb in getattr(bpy.data, name)
               if idb not in before[name]]
        if new:
            bpy.data.batch_remove(new)
        raise


def build_scene(context: bpy.types.Context, bundle_dir: str, *, source: str, name: str = "",
                job_id: str = "", axes: Iterable[str] = SLICE_AXES,
                square_render: bool = False, scene_camera: bool = True,
                smooth: bool = True, photo_names: Sequence[str] = ()) -> bpy.types.Collection:
    """Import one bundle into the scene; returns the new `Slice3D <name>` collection.

    `scene_camera`: the photo camera becomes the scene's camera (else only when it has none);
    `smooth`: the mesh is shaded smooth with edges sharper than SHARP_ANGLE kept (else flat).
    The mesh's material shows the bundle's texture.png, or its vertex colours when it has none.
    A bundle of several photos adds a camera per other photo used (`<name> Camera 2`, ...), and
    every photo camera shows its photo as its background; `photo_names` name the photos (in
    input order) in the cameras' slice3d_source, else the bundle's own names do."""
    result = read_result(bundle_dir)
    base = _display_name(name or source or result.get("source") or os.path.basename(bundle_dir))
    props = {"slice3d_source": source or str(result.get("source", "")),
             "slice3d_job": job_id or os.path.basename(os.path.normpath(bundle_dir)),
             "slice3d_model": str(result.get("model", ""))}
    scene = context.scene
    with all_or_nothing():
        root = bpy.data.collections.new(f"Slice3D {base}")
        scene.collection.children.link(root)
        mesh_obj = _import_mesh(context, root, os.path.join(bundle_dir, "mesh.glb"), base)
        shade(mesh_obj.data, smooth)
        _set_surface_material(mesh_obj.data, bundle_texture(bundle_dir, result), base)
        cam_obj = _add_camera(root, base, result.get("camera") or {})
        cameras = _add_view_cameras(root, bundle_dir, result, base, cam_obj)
        _add_slices(context, root, bundle_dir, result, base, set(axes))
        for idb in (root, *root.all_objects):
            for key, value in props.items():
                idb[key] = value
        for k, camera in cameras.items():
            _label_view_camera(camera, view_entries(result)[k], photo_names)
        root["slice3d_timings"] = json.dumps(result.get("timings_s") or {})
        if len(view_entries(result)) > 1:
            root["slice3d_views"] = json.dumps(view_entries(result))
            root["slice3d_warnings"] = json.dumps(result.get("warnings") or [])
        if scene_camera or scene.camera is None:
            scene.camera = cam_obj
        if square_render:
            size = max(scene.render.resolution_x, scene.render.resolution_y)
            scene.render.resolution_x = scene.render.resolution_y = size
            scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
    return root


def _display_name(source: str) -> str:
    name = os.path.splitext(os.path.basename(source.replace("\\", "/")))[0] or "image"
    return name[:40]


def find_layer_collection(layer: bpy.types.LayerCollection,
                           coll: bpy.types.Collection) -> bpy.types.LayerCollection | None:
    if layer.collection == coll:
        return layer
    for child in layer.children:
        found = find_layer_collection(child, coll)
        if found is not None:
            return found
    return None


def _import_mesh(context: bpy.types.Context, root: bpy.types.Collection, glb: str,
                 base: str) -> bpy.types.Object:
    """Import mesh.glb (the importer maps glTF +Y up to world (x, -z, y)) into `root`."""
    if not hasattr(bpy.ops.import_scene, "gltf"):
        raise BundleError("Blender's glTF importer is not enabled (add-on io_scene_gltf2)")
    view_layer = context.view_layer
    previous = view_layer.active_layer_collection
    layer = find_layer_collection(view_layer.layer_collection, root)
    before = set(bpy.data.objects)
    try:
        if layer is not None:
            view_layer.active_layer_collection = layer
        # merge_vertices: glTF splits vertices along UV seams; merged, the surface is one piece
        # again (UVs stay per corner). SMOOTH: no custom normals, so sharp edges can show.
        outcome = bpy.ops.import_scene.gltf(filepath=glb, merge_vertices=True,
                                            import_shading="SMOOTH")
    finally:
        view_layer.active_layer_collection = previous
    new = [obj for obj in bpy.data.objects if obj not in before]
    if "FINISHED" not in outcome or not new:
        raise BundleError(f"Could not import the mesh {glb}")
    for obj in new:
        for coll in list(obj.users_collection):
            if coll != root:
                coll.objects.unlink(obj)
        if root not in obj.users_collection:
            root.objects.link(obj)
    meshes = [obj for obj in new if obj.type == "MESH"]
    if not meshes:
        raise BundleError("mesh.glb holds no mesh")
    _drop_empties([obj for obj in new if obj.type == "EMPTY"])
    mesh_obj = max(meshes, key=lambda o: len(o.data.vertices))
    mesh_obj.name = f"{base} Mesh"
    return mesh_obj


def shade(mesh: bpy.types.Mesh, smooth: bool) -> None:
    """Smooth shading with sharp edges kept (Blender 4.1+ ``set_sharp_from_angle``), or flat."""
    if smooth:
        mesh.shade_smooth()
        mesh.set_sharp_from_angle(angle=SHARP_ANGLE)
    else:
        mesh.shade_flat()


def bundle_texture(bundle_dir: str, result: dict) -> str | None:
    """The path of the bundle's base-colour texture, or None when it has vertex colours only."""
    path = os.path.join(bundle_dir, TEXTURE_FILE)
    if result.get("texture") is None and not os.path.isfile(path):
        return None
    if not os.path.isfile(path):
        raise BundleError(f"The bundle lacks {TEXTURE_FILE}")
    return path


def _set_surface_material(mesh: bpy.types.Mesh, texture: str | None, base: str) -> None:
    """One Principled material: base colour from the texture image, else the colour attribute.

    The glTF importer's own material (and its copy of the image) is replaced, so the node tree
    is the same whichever importer version read the file."""
    old = [mat for mat in mesh.materials if mat is not None]
    mat = bpy.data.materials.new(f"{base} Surface")
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    bsdf = next(n for n in nodes if n.type == "BSDF_PRINCIPLED")
    bsdf.inputs["Roughness"].default_value = ROUGHNESS
    bsdf.inputs["Metallic"].default_value = 0.0
    if texture is not None:
        source = nodes.new("ShaderNodeTexImage")
        source.image = _load_packed(texture, f"{base} Texture")
    else:
        source = nodes.new("ShaderNodeVertexColor")
        source.layer_name = mesh.color_attributes[0].name if mesh.color_attributes else ""
    source.location = (bsdf.location[0] - 350, bsdf.location[1])
    links.new(source.outputs["Color"], bsdf.inputs["Base Color"])
    mesh.materials.clear()
    mesh.materials.append(mat)
    _remove_unused(old)


def _load_packed(path: str, name: str) -> bpy.types.Image:
    image = bpy.data.images.load(path, check_existing=False)
    image.name = name
    if image.size[0] == 0 or image.size[1] == 0:  # size forces the load; a bad file has none
        raise BundleError(f"Cannot read the image {os.path.basename(path)}")
    image.pack()  # the downloaded bundle folder may be deleted afterwards
    return image


def _remove_unused(materials: list[bpy.types.Material]) -> None:
    """The importer's materials, and the images only they used, once nothing uses them."""
    images = {node.image for mat in materials if mat.node_tree
              for node in mat.node_tree.nodes if getattr(node, "image", None) is not None}
    bpy.data.batch_remove([mat for mat in materials if mat.users == 0])
    bpy.data.batch_remove([image for image in images if image.users == 0])


def _drop_empties(empties: list[bpy.types.Object]) -> None:
    """glTF scene nodes (trimesh writes a "world" node) become empties: keep only the mesh."""
    for empty in empties:
        for child in empty.children:
            matrix = child.matrix_world.copy()
            child.parent = None
            child.matrix_world = matrix
    if empties:
        bpy.data.batch_remove(empties)


def bundle_focal(cam: dict) -> float:
    """The focal length in NDC units of a bundle's camera: the contract's FOCAL_NDC, scaled when
    the bundle names another lens or sensor."""
    lens = float(cam.get("lens_mm", LENS_MM))
    sensor = float(cam.get("sensor_mm", SENSOR_MM))
    return FOCAL_NDC * (lens / LENS_MM) * (SENSOR_MM / sensor)


def _add_camera(root: bpy.types.Collection, base: str, cam: dict) -> bpy.types.Object:
    """The input view: world (0, -distance, 0) looking along +Y, +Z up, 35 mm on 32 mm."""
    data = bpy.data.cameras.new(f"{base} Camera")
    data.lens = float(cam.get("lens_mm", LENS_MM))
    data.sensor_width = float(cam.get("sensor_mm", SENSOR_MM))
    data.sensor_fit = "AUTO"  # a square render then uses the full 32 mm both ways
    data.clip_start, data.clip_end = 0.01, 100.0
    obj = bpy.data.objects.new(f"{base} Camera", data)
    obj.location = view_to_blender(0.0, 0.0, float(cam.get("distance", CAMERA_DISTANCE)))
    obj.rotation_euler = FACING_CAMERA
    root.objects.link(obj)
    return obj


def view_to_blender_matrix() -> Matrix:
    """`view_to_blender` (ARCHITECTURE section 4) as a 4x4 matrix: view frame -> Blender world."""
    axes = [view_to_blender(*axis) for axis in ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))]
    return Matrix([[axes[j][i] for j in range(3)] + [0.0] for i in range(3)]
                  + [[0.0, 0.0, 0.0, 1.0]])


def camera_to_view_matrix(view: dict) -> Matrix:
    """A views entry's `camera_to_view` (4x4, row-major) as a matrix; BundleError when it is
    not one."""
    rows = view.get("camera_to_view")
    flat = [v for row in rows for v in row] if isinstance(rows, list) and all(
        isinstance(row, list) for row in rows) else rows
    if not isinstance(flat, list) or len(flat) != 16 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in flat):
        raise BundleError(f"Photo {int(view.get('index', 0)) + 1} of the bundle has no valid "
                          "camera_to_view (a 4x4 matrix)")
    return Matrix([flat[4 * i:4 * i + 4] for i in range(4)])


def _add_view_cameras(root: bpy.types.Collection, bundle_dir: str, result: dict, base: str,
                      main: bpy.types.Object) -> dict[int, bpy.types.Object]:
    """A camera per other photo used, at its camera_to_view pose mapped into Blender; with
    several photos every photo camera shows its framed photo as the background. {index: camera}
    for every photo camera, the main one included; empty for a one-photo bundle."""
    views = view_entries(result)
    if len(views) < 2:
        return {}
    to_blender = view_to_blender_matrix()
    cameras = {}
    for k, view in enumerate(views):
        if int(view.get("index", k)) != k:
            raise BundleError(f"The bundle's photo {k + 1} is listed out of order")
        if not view.get("used"):
            continue
        if k == 0:
            camera = main
        else:
            camera = _copy_camera(main, f"{base} Camera {k + 1}")
            loc, rot, _ = (to_blender @ camera_to_view_matrix(view)).decompose()
            camera.location, camera.rotation_euler = loc, rot.to_euler("XYZ")
            root.objects.link(camera)
        cameras[k] = camera
    for k, camera in cameras.items():  # after the copies: they take the main camera's settings
        _show_photo(camera, _photo_path(bundle_dir, views[k], k), f"{base} Photo {k + 1}")
    return cameras


def _copy_camera(main: bpy.types.Object, name: str) -> bpy.types.Object:
    """Another camera with the main camera's lens and sensor."""
    data = main.data.copy()
    data.name = name
    return bpy.data.objects.new(name, data)


def _photo_path(bundle_dir: str, view: dict, k: int) -> str:
    """The framed photo of a views entry: input.png for the main photo, views/<k>.png else."""
    relative = "input.png" if k == 0 else str(view.get("input") or f"views/{k}.png")
    path = os.path.normpath(os.path.join(bundle_dir, relative))
    if os.path.relpath(path, bundle_dir).split(os.sep)[0] == ".." or os.path.isabs(relative):
        raise BundleError(f"Photo {k + 1}'s file {relative} lies outside the bundle")
    if not os.path.isfile(path):
        raise BundleError(f"The bundle lacks {relative}")
    return path


def _show_photo(camera: bpy.types.Object, path: str, name: str) -> None:
    """The photo behind the scene when looking through the camera (cropped as the render is)."""
    camera.data.show_background_images = True
    background = camera.data.background_images.new()
    background.image = _load_packed(path, name)
    background.frame_method = "CROP"  # the square photo spans the 32 mm sensor's wider side


def _label_view_camera(camera: bpy.types.Object, view: dict, names: Sequence[str]) -> None:
    """The photo's index, pose and name on its camera (custom properties)."""
    k = int(view.get("index", 0))
    camera["slice3d_view"] = k
    if k < len(names) and names[k]:
        camera["slice3d_source"] = names[k]
    elif view.get("source"):
        camera["slice3d_source"] = str(view["source"])
    for key in ("pose", "azimuth", "elevation", "confidence"):
        if view.get(key) is not None:
            camera[f"slice3d_{key}"] = view[key]


def photo_messages(coll: bpy.types.Collection, names: Sequence[str] = ()) -> list[str]:
    """The sentences about particular photos of an imported result: those left out, and
    warnings about those used (client.views.unused_photos)."""
    try:
        views = json.loads(coll.get("slice3d_views") or "[]")
        warnings = json.loads(coll.get("slice3d_warnings") or "[]")
    except ValueError:
        return []
    return unused_photos({"views": views, "warnings": warnings}, names)


def _add_slices(context: bpy.types.Context, root: bpy.types.Collection, bundle_dir: str,
                result: dict, base: str, axes: set[str]) -> None:
    """A `Slices` collection with X, Y, Z children; one camera-facing plane per slice image."""
    slices = result.get("slices") or []
    if not slices:
        return
    cam = result.get("camera") or {}
    distance = float(cam.get("distance", CAMERA_DISTANCE))
    focal = bundle_focal(cam)
    z_slabs = [s for s in slices if s.get("axis") == "Z"]
    centre_z = (0.5 * (min(s["plane_min"] for s in z_slabs) + max(s["plane_max"] for s in z_slabs))
                if z_slabs else 0.0)
    holder = bpy.data.collections.new("Slices")
    root.children.link(holder)
    per_axis = {}
    for axis in (a for a in SLICE_AXES if a in axes):
        sub = bpy.data.collections.new(axis)
        holder.children.link(sub)
        per_axis[axis] = sub
    for info in slices:
        axis, name = str(info["axis"]), str(info["name"])
        if axis not in per_axis:
            continue
        path = os.path.join(bundle_dir, "slices", f"{name}.png")
        if not os.path.isfile(path):
            raise BundleError(f"The bundle lacks slices/{name}.png")
        depth_z = 0.5 * (float(info["plane_min"]) + float(info["plane_max"])) if axis == "Z" \
            else centre_z
        _add_plane(per_axis[axis], path, f"{base} {name}", depth_z, distance, focal)
    for axis, sub in per_axis.items():
        visible = axis == "Z"
        sub.hide_render = not visible
        layer = find_layer_collection(context.view_layer.layer_collection, sub)
        if layer is not None:
            layer.hide_viewport = not visible


def _add_plane(coll: bpy.types.Collection, image_path: str, name: str, view_z: float,
               distance: float, focal: float) -> bpy.types.Object:
    """A square plane at view-frame depth `view_z` that exactly fills the camera's frustum."""
    half = frustum_half_width(distance - view_z, focal)
    mesh = bpy.data.meshes.new(name)
    corners = [(-half, -half, 0.0), (half, -half, 0.0), (half, half, 0.0), (-half, half, 0.0)]
    mesh.from_pydata(corners, [], [(0, 1, 2, 3)])
    uv = mesh.uv_layers.new(name="UVMap")
    for loop, coord in zip(mesh.loops, ((0, 0), (1, 0), (1, 1), (0, 1)), strict=True):
        uv.data[loop.index].uv = coord
    mesh.materials.append(_slice_material(image_path, name))
    obj = bpy.data.objects.new(name, mesh)
    obj.location = view_to_blender(0.0, 0.0, view_z)
    obj.rotation_euler = FACING_CAMERA
    coll.objects.link(obj)
    return obj


def _slice_material(image_path: str, name: str) -> bpy.types.Material:
    """Unlit, alpha-blended image material (the slice renders are already shaded)."""
    image = _load_packed(image_path, name)
    mat = bpy.data.materials.new(name)
    mat.use_nodes = True
    nodes, links = mat.node_tree.nodes, mat.node_tree.links
    nodes.clear()
    tex = nodes.new("ShaderNodeTexImage")
    tex.image = image
    tex.extension = "CLIP"
    emit = nodes.new("ShaderNodeEmission")
    clear = nodes.new("ShaderNodeBsdfTransparent")
    mix = nodes.new("ShaderNodeMixShader")
    out = nodes.new("ShaderNodeOutputMaterial")
    links.new(tex.outputs["Color"], emit.inputs["Color"])
    links.new(tex.outputs["Alpha"], mix.inputs["Fac"])
    links.new(clear.outputs["BSDF"], mix.inputs[1])
    links.new(emit.outputs["Emission"], mix.inputs[2])
    links.new(mix.outputs["Shader"], out.inputs["Surface"])
    nodes.active = tex
    for node, x in ((tex, -600), (emit, -300), (clear, -300), (mix, -100), (out, 100)):
        node.location = (x, 300 if node is clear else 0)
    if hasattr(mat, "surface_render_method"):
        mat.surface_render_method = "BLENDED"
    if hasattr(mat, "blend_method"):
        mat.blend_method = "BLEND"
    mat.use_backface_culling = False
    return mat
