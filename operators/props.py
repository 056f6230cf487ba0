"""Per-scene settings shown in the sidebar (the image to send and the reconstruction options)."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, IntProperty, PointerProperty

RESOLUTIONS = [("64", "Draft (64)", "Coarse grid, fastest"),
               ("128", "Normal (128)", "Good balance on a CPU"),
               ("256", "High (256)", "Finest grid; slow without a GPU")]
PREDICTORS = [("auto", "Auto", "The network when its weights are installed, else the baseline"),
              ("network", "Network", "The Slice3D network (fails if no weights are installed)"),
              ("baseline", "Baseline", "Silhouette inflation: fast, no network, a rough shape")]
FLIP_AVERAGES = [("auto", "Auto", "As the installed weights were calibrated (on for the shipped)"),
                 ("on", "On", "Average the network over the image and its mirror image"),
                 ("off", "Off", "One network pass: about half the SDF time, slightly rougher")]
SILHOUETTE_FILLS = [
    ("auto", "Auto", "As the installed weights were calibrated (on for the shipped): thin parts "
                     "the network loses are filled in where the picture shows them"),
    ("off", "Off", "The network's surface as it is: thin parts may break up or vanish")]
BACKGROUNDS = [("auto", "Auto", "Use the image's alpha if it has one, else remove the background"),
               ("alpha", "Alpha", "Trust the image's alpha channel"),
               ("remove", "Remove", "Always remove the background with a segmentation network")]


class Slice3DSceneSettings(bpy.types.PropertyGroup):
    """What the next Reconstruct sends, and which slices it imports."""

    image: PointerProperty(type=bpy.types.Image, name="Image",
                           description="The picture of one object to reconstruct")
    resolution: EnumProperty(items=RESOLUTIONS, name="Mesh Resolution", default="128",
                             description="Size of the SDF grid that marching cubes meshes")
    face_budget: IntProperty(name="Face Budget", default=200000, min=0, soft_max=1000000,
                             description="Simplify to at most this many faces (0 = keep all)")
    background: EnumProperty(items=BACKGROUNDS, name="Background", default="auto",
                             description="How to separate the object from its background")
    predictor: EnumProperty(items=PREDICTORS, name="Predictor", default="auto",
                            description="Which reconstruction method the backend uses")
    flip_average: EnumProperty(
        items=FLIP_AVERAGES, name="Mirror Average", default="auto",
        description="Test-time average of the network over the image and its mirror image "
                    "(the baseline ignores it)")
    silhouette_fill: EnumProperty(
        items=SILHOUETTE_FILLS, name="Fill Silhouette", default="auto",
        description="Put a thin sheet wherever the picture shows the object but the network's "
                    "surface misses it (the baseline ignores it)")
    import_x: BoolProperty(name="X", default=True, description="Import the X (left-right) slices")
    import_y: BoolProperty(name="Y", default=True, description="Import the Y (top-bottom) slices")
    import_z: BoolProperty(name="Z", default=True, description="Import the Z (near-far) slices")
    square_render: BoolProperty(
        name="Square Render", default=False,
        description="Make the scene's render resolution square so the camera reproduces the input")

    def axes(self) -> tuple[str, ...]:
        return tuple(a for a in "XYZ" if getattr(self, f"import_{a.lower()}"))


def settings(context: bpy.types.Context) -> Slice3DSceneSettings:
    return context.scene.slice3d


CLASSES = (Slice3DSceneSettings,)


def register() -> None:
    bpy.types.Scene.slice3d = PointerProperty(type=Slice3DSceneSettings)


def unregister() -> None:
    del bpy.types.Scene.slice3d
