"""The contract every side shares: options, camera and view frame, projection (ARCHITECTURE.md).

One source of truth for each default and convention. This module imports nothing outside the
standard library, so the backend imports it and the Blender side carries a byte-identical copy
(``client/contract.py``; ``tests/test_contract_copy.py`` proves them equal). Change it here and
copy it there in the same commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# --- Camera and view frame -------------------------------------------------------------------
# Perspective camera, 35 mm lens on a 32 mm sensor, square image, CAMERA_DISTANCE from the object
# centre. View frame: the camera frame (x right, y up, looking along -z) shifted by
# +CAMERA_DISTANCE along z, so the object centre is the origin and +z points toward the camera.
LENS_MM = 35.0
SENSOR_MM = 32.0
CAMERA_DISTANCE = 1.2
FOCAL_NDC = 2.0 * LENS_MM / SENSOR_MM  # focal length in NDC units (image half-width = 1)
FOV_DEG = math.degrees(2.0 * math.atan(SENSOR_MM / (2.0 * LENS_MM)))

SDF_BOUND = 0.5  # the SDF is evaluated in [-SDF_BOUND, SDF_BOUND]^3 of the view frame
SDF_PAD = 0.05  # a little padding so surfaces touching the cube still close

MODEL_INPUT_SIZE = 128
SLICE_AXES = ("X", "Y", "Z")
SLICES_PER_AXIS = 4
SLICE_NAMES = tuple(f"{a}{k}" for a in SLICE_AXES for k in range(1, SLICES_PER_AXIS + 1))

# Blender placement: world = (x, -z, y) of the view frame; the imported camera sits here,
# looking along +Y with +Z up.
BLENDER_CAMERA_LOCATION = (0.0, -CAMERA_DISTANCE, 0.0)


def project(x: Any, y: Any, z: Any, focal: float = FOCAL_NDC,
            distance: float = CAMERA_DISTANCE) -> tuple[Any, Any, Any]:
    """View-frame point(s) to image NDC (x right, y DOWN, [-1, 1]) and depth from the camera.

    Element-wise arithmetic only, so it serves floats, NumPy arrays and torch tensors alike; the
    NDC convention is ``grid_sample``'s with ``align_corners=False``. Callers that must avoid a
    zero depth clamp it themselves (``depth_floor``).
    """
    depth = distance - z
    return focal * x / depth, -focal * y / depth, depth


def unproject(u: Any, v: Any, depth: Any, focal: float = FOCAL_NDC,
              distance: float = CAMERA_DISTANCE) -> tuple[Any, Any, Any]:
    """The inverse of :func:`project`: NDC and depth back to view-frame coordinates."""
    return u * depth / focal, -v * depth / focal, distance - depth


def view_to_blender(x: float, y: float, z: float) -> tuple[float, float, float]:
    """A view-frame point in Blender's world: upright as in the picture, seen from the front."""
    return (x, -z, y)


def frustum_half_width(depth: float, focal: float = FOCAL_NDC) -> float:
    """Half the width of the square frustum at a given depth from the camera."""
    return depth / focal


# --- Reconstruction options ------------------------------------------------------------------


@dataclass(frozen=True)
class OptionSpec:
    """One reconstruction option as every interface shows it (CLI, HTTP, sidebar, batch)."""

    name: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    @property
    def flag(self) -> str:
        """The command-line spelling, ``--face-budget`` for ``face_budget``."""
        return "--" + self.name.replace("_", "-")


MIN_RESOLUTION, MAX_RESOLUTION = 32, 256
MIN_FACE_BUDGET = 100  # fewer faces than this decimates any object to nothing, or to one triangle
MAX_FACE_BUDGET = 5_000_000
MAX_NAME_LENGTH = 200
MIN_TEXTURE_SIZE, MAX_TEXTURE_SIZE = 512, 2048

RESOLUTION = OptionSpec(
    "resolution", 256, "marching-cubes grid size, a power of two from 32 to 256",
    minimum=MIN_RESOLUTION, maximum=MAX_RESOLUTION)
FACE_BUDGET = OptionSpec(
    "face_budget", 25_000, "simplify to at most this many faces (0 keeps every face)",
    minimum=0, maximum=MAX_FACE_BUDGET)
BACKGROUND = OptionSpec(
    "background", "auto",
    "auto: the image's alpha if it has one, else remove the background; alpha: trust the "
    "alpha channel; remove: always remove the background",
    choices=("auto", "alpha", "remove"))
PREDICTOR = OptionSpec(
    "predictor", "auto",
    "auto: the network when its weights are installed, else the silhouette baseline",
    choices=("auto", "network", "baseline"))
FLIP_AVERAGE = OptionSpec(
    "flip_average", "auto",
    "the network averaged over the image and its mirror image (auto: as the weights were "
    "calibrated; off: one pass, about half the SDF time)",
    choices=("auto", "on", "off"))
SILHOUETTE_FILL = OptionSpec(
    "silhouette_fill", "auto",
    "fill in thin parts the network loses where the picture shows them (auto: as the weights "
    "say; off: the network's surface as it is)",
    choices=("auto", "off"))
TEXTURE_SIZE = OptionSpec(
    "texture_size", 1024, "the base-colour texture's size in texels a side, 512 to 2048",
    minimum=MIN_TEXTURE_SIZE, maximum=MAX_TEXTURE_SIZE)
VERTEX_COLORS = OptionSpec(
    "vertex_colors", False,
    "colour the mesh's vertices straight from the photo instead of baking a texture (the "
    "front's colours then show through on the back)")
KEEP_SDF = OptionSpec("keep_sdf", False, "also write the SDF grid as sdf.npy")
NAME = OptionSpec("name", "", "the source's name, stored in result.json")

OPTIONS = (RESOLUTION, FACE_BUDGET, BACKGROUND, PREDICTOR, FLIP_AVERAGE, SILHOUETTE_FILL,
           TEXTURE_SIZE, VERTEX_COLORS, KEEP_SDF, NAME)
DEFAULTS: dict[str, Any] = {spec.name: spec.default for spec in OPTIONS}

# --- Several photos of one object (issue 35) ------------------------------------------------
# Photo 0 is the reference (it fixes the view frame); photo k's pose is its azimuth relative to
# photo 0 (degrees, counter-clockwise seen from above as the camera moves round the object) and
# its elevation (degrees above the object's horizontal plane). HTTP: view_sizes, azimuths,
# elevations as comma-separated query values (docs/API.md).
MAX_VIEWS = 6
MAX_ELEVATION = 80.0  # |elevation| above this looks straight down, where azimuth means nothing

# --- Transport -------------------------------------------------------------------------------
MAX_UPLOAD_MB = 128  # the server's default upload limit
