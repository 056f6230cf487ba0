"""Per-scene settings shown in the sidebar (the image to send, more photos of the same object
with their poses, and the reconstruction options).

Every default, choice and help text comes from the contract (client/contract.py); only the labels
and the one-line descriptions of each choice are the sidebar's own.
"""

from __future__ import annotations

import math
from typing import Any

import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    IntProperty,
    PointerProperty,
)

from ..client import contract
from ..client.contract import (
    BACKGROUND,
    FACE_BUDGET,
    FLIP_AVERAGE,
    PREDICTOR,
    RESOLUTION,
    SILHOUETTE_FILL,
    TEXTURE_SIZE,
    VERTEX_COLORS,
    OptionSpec,
)
from ..client.remote_job import JobOptions
from ..client.views import MAX_ELEVATION, Poses

EnumItems = list[tuple[str, str, str]]

RESOLUTIONS: EnumItems = [("64", "Draft (64)", "Coarse grid, fastest"),
                          ("128", "Normal (128)", "Good balance on a CPU"),
                          ("256", "High (256)", "Finest grid; slow without a GPU")]
RESOLUTION_DEFAULT = str(RESOLUTION.default)
assert RESOLUTION_DEFAULT in {item[0] for item in RESOLUTIONS}


def _items(spec: OptionSpec, texts: dict[str, tuple[str, str]]) -> EnumItems:
    """Enum items in the contract's order; a choice without a label fails at import."""
    return [(choice, *texts[choice]) for choice in spec.choices]


def help_text(spec: OptionSpec) -> str:
    """The contract's help text as a Blender tooltip (capitalised)."""
    return spec.help[:1].upper() + spec.help[1:]


PREDICTORS = _items(PREDICTOR, {
    "auto": ("Auto", "The network when its weights are installed, else the baseline"),
    "network": ("Network", "The Slice3D network (fails if no weights are installed)"),
    "baseline": ("Baseline", "Silhouette inflation: fast, no network, a rough shape")})
FLIP_AVERAGES = _items(FLIP_AVERAGE, {
    "auto": ("Auto", "As the installed weights were calibrated (on for the shipped)"),
    "on": ("On", "Average the network over the image and its mirror image"),
    "off": ("Off", "One network pass: about half the SDF time, slightly rougher")})
SILHOUETTE_FILLS = _items(SILHOUETTE_FILL, {
    "auto": ("Auto", "As the installed weights were calibrated (on for the shipped): thin parts "
                     "the network loses are filled in where the picture shows them"),
    "off": ("Off", "The network's surface as it is: thin parts may break up or vanish")})
BACKGROUNDS = _items(BACKGROUND, {
    "auto": ("Auto", "Use the image's alpha if it has one, else remove the background"),
    "alpha": ("Alpha", "Trust the image's alpha channel"),
    "remove": ("Remove", "Always remove the background with a segmentation network")})


def resolution_property(name: str) -> Any:
    return EnumProperty(items=RESOLUTIONS, name=name, default=RESOLUTION_DEFAULT,
                        description=help_text(RESOLUTION))


def face_budget_property(name: str) -> Any:
    return IntProperty(name=name, default=FACE_BUDGET.default, min=FACE_BUDGET.minimum or 0,
                       max=FACE_BUDGET.maximum or contract.MAX_FACE_BUDGET, soft_max=1_000_000,
                       description=help_text(FACE_BUDGET))


def texture_size_property(name: str) -> Any:
    return IntProperty(name=name, default=TEXTURE_SIZE.default, min=TEXTURE_SIZE.minimum or 512,
                       max=TEXTURE_SIZE.maximum or 2048, step=512,
                       description=help_text(TEXTURE_SIZE))


def vertex_colors_property(name: str) -> Any:
    return BoolProperty(name=name, default=VERTEX_COLORS.default,
                        description=help_text(VERTEX_COLORS))


def choice_property(spec: OptionSpec, items: EnumItems, name: str) -> Any:
    return EnumProperty(items=items, name=name, default=spec.default, description=help_text(spec))


def elevation_property(name: str, description: str) -> Any:
    return FloatProperty(name=name, subtype="ANGLE", default=0.0,
                         min=-math.radians(MAX_ELEVATION), max=math.radians(MAX_ELEVATION),
                         description=description)


class Slice3DPhoto(bpy.types.PropertyGroup):
    """One more photo of the object, and where it was taken from when that is known."""

    image: PointerProperty(type=bpy.types.Image, name="Photo",
                           description="Another photo of the same object")
    azimuth: FloatProperty(
        name="Azimuth", subtype="ANGLE", default=0.0, min=-2 * math.pi, max=2 * math.pi,
        description="How far the camera went round the object from the main photo, "
                    "counter-clockwise seen from above (90: the object's right side)")
    elevation: elevation_property(
        "Elevation", "The camera's angle above the object's horizontal plane for this photo")


class Slice3DSceneSettings(bpy.types.PropertyGroup):
    """What the next Reconstruct sends, and which slices it imports."""

    image: PointerProperty(type=bpy.types.Image, name="Image",
                           description="The picture of one object to reconstruct")
    photos: CollectionProperty(type=Slice3DPhoto, name="More Photos",
                               description="More photos of the same object, fused into one mesh")
    photo_index: IntProperty(name="Active Photo", default=0, min=0)
    known_poses: BoolProperty(
        name="Known Poses", default=False,
        description="Give each photo's azimuth and elevation (a turntable, say); off: the "
                    "backend finds them from the photos")
    main_elevation: elevation_property(
        "Main Photo Elevation", "The camera's angle above the object's horizontal plane for "
                                "the main photo")
    resolution: resolution_property("Mesh Resolution")
    face_budget: face_budget_property("Face Budget")
    background: choice_property(BACKGROUND, BACKGROUNDS, "Background")
    predictor: choice_property(PREDICTOR, PREDICTORS, "Predictor")
    flip_average: choice_property(FLIP_AVERAGE, FLIP_AVERAGES, "Mirror Average")
    silhouette_fill: choice_property(SILHOUETTE_FILL, SILHOUETTE_FILLS, "Fill Silhouette")
    texture_size: texture_size_property("Texture Size")
    vertex_colors: vertex_colors_property("Vertex Colours Only")
    import_x: BoolProperty(name="X", default=True, description="Import the X (left-right) slices")
    import_y: BoolProperty(name="Y", default=True, description="Import the Y (top-bottom) slices")
    import_z: BoolProperty(name="Z", default=True, description="Import the Z (near-far) slices")
    square_render: BoolProperty(
        name="Square Render", default=False,
        description="Make the scene's render resolution square so the camera reproduces the input")
    scene_camera: BoolProperty(
        name="Use as Scene Camera", default=True,
        description="Make the imported photo camera the scene's camera")
    smooth_shading: BoolProperty(
        name="Smooth Shading", default=True,
        description="Shade the imported mesh smooth (off: flat faces)")

    def axes(self) -> tuple[str, ...]:
        return tuple(a for a in "XYZ" if getattr(self, f"import_{a.lower()}"))


# The options "Reset to Defaults" copies from the preferences' default_<name> properties.
RESET_OPTIONS = ("resolution", "face_budget", "background", "flip_average", "silhouette_fill",
                 "texture_size", "vertex_colors")


def settings(context: bpy.types.Context) -> Slice3DSceneSettings:
    return context.scene.slice3d


def job_options(opts: Slice3DSceneSettings) -> JobOptions:
    """What the sidebar's options send to the backend."""
    return JobOptions(resolution=int(opts.resolution), face_budget=opts.face_budget,
                      background=opts.background, predictor=opts.predictor,
                      flip_average=opts.flip_average, silhouette_fill=opts.silhouette_fill,
                      texture_size=opts.texture_size, vertex_colors=opts.vertex_colors)


def poses(opts: Slice3DSceneSettings) -> Poses:
    """The photos' poses in degrees when the user gives them (the main photo's azimuth is 0)."""
    if not opts.known_poses or not opts.photos:
        return Poses()
    return Poses((0.0, *(math.degrees(p.azimuth) for p in opts.photos)),
                 (math.degrees(opts.main_elevation),
                  *(math.degrees(p.elevation) for p in opts.photos)))


def reset_options(opts: Slice3DSceneSettings, prefs: Any) -> None:
    """The options back to the preferences' defaults (the contract's, without preferences)."""
    for name in RESET_OPTIONS:
        default = str(RESOLUTION.default) if name == "resolution" else contract.DEFAULTS[name]
        setattr(opts, name, getattr(prefs, f"default_{name}", default))
    opts.import_x = opts.import_y = opts.import_z = True


CLASSES = (Slice3DPhoto, Slice3DSceneSettings)


def register() -> None:
    bpy.types.Scene.slice3d = PointerProperty(type=Slice3DSceneSettings)


def unregister() -> None:
    del bpy.types.Scene.slice3d
