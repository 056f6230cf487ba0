"""The path of one image: decode, mask, frame, predict, SDF grid, mesh, clean-up, bundle.

Several photos of one object (issue 35) take the same path with two stages more: photo 0 is
predicted first, the others are placed against its shape (``poses``: given or found, then
re-framed, ``backend.multiview``), and all the used photos are read together (``fuse``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
import trimesh

from . import __version__
from .allocator import keep_freed_memory
from .bundle import TEXTURE_FILE, write_bundle
from .errors import BackendError, Cancelled
from .foreground import BackgroundMode, extract_foreground
from .framing import frame_object, to_model_input
from .geometry import CAMERA_DISTANCE, LENS_MM, SENSOR_MM, SLICE_AXES, project
from .intake import LoadedImage, load_image
from .mesh_cleanup import clean_mesh
from .meshing import SdfGrid, evaluate_coarse_to_fine, grid_levels, marching_cubes
from .multiview.placement import (
    ExtraPhoto,
    Placement,
    ViewEntry,
    place_predicted,
    placed_inputs,
    single_view,
)
from .multiview.reframe import reframe_cutout
from .multiview.request import ViewRequest
from .options import ReconstructOptions
from .predictors import Predictor, load_predictor
from .predictors.base import Prediction
from .silhouette_fill import fill_missed_rays
from .texture import ColourFn, ViewPhoto, texture_mesh

# Share of the whole job each stage stands for, so one progress bar moves evenly.
STAGES = {
    "decode": 0.02, "mask": 0.08, "frame": 0.02, "predict": 0.08,
    "sdf": 0.5, "mesh": 0.1, "cleanup": 0.1, "texture": 0.05, "bundle": 0.05,
}
# The same for a job of several photos: each photo is decoded and masked, and two stages more.
MULTI_STAGES = {
    "decode": 0.03, "mask": 0.12, "frame": 0.02, "predict": 0.05, "poses": 0.1, "fuse": 0.05,
    "sdf": 0.4, "mesh": 0.08, "cleanup": 0.08, "texture": 0.04, "bundle": 0.03,
}
# What progress says while each stage runs: words for the person waiting. The keys above stay the
# keys of timings_s (result.json's contract); the SDF stage names its grid level as it goes.
STAGE_LABELS = {
    "decode": "Reading the image", "mask": "Removing the background",
    "frame": "Framing the object", "predict": "Predicting the slices",
    "poses": "Placing the other photos", "fuse": "Reading all the photos",
    "sdf": "Computing the shape", "mesh": "Building the mesh",
    "cleanup": "Cleaning up the mesh", "texture": "Painting the texture",
    "bundle": "Writing the result",
}
DONE_LABEL = "done"  # as before: the one stage name the clients compare against
ProgressFn = Callable[[str, float], None]


def sdf_label(level: int, levels: int) -> str:
    return f"{STAGE_LABELS['sdf']} (level {level} of {levels})"


def stage_key(label: str) -> str:
    """The stage key (a timings_s key, or "done") that a progress label stands for."""
    if label == DONE_LABEL:
        return "done"
    return next((key for key, words in STAGE_LABELS.items()
                 if label == words or label.startswith(words + " (")), label)


CancelFn = Callable[[], bool]


class Reconstructor:
    """Keeps predictors loaded on one device so warm jobs pay only for their own work."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self._predictors: dict[str, Predictor] = {}
        self._lock = threading.Lock()
        keep_freed_memory()  # freed tensors stay for the next chunk (backend.allocator)

    def predictor(self, kind: str) -> Predictor:
        with self._lock:
            if kind not in self._predictors:
                self._predictors[kind] = load_predictor(kind, self.device)
            return self._predictors[kind]

    @staticmethod
    def _fuse(predictor: Predictor, prediction: Prediction, model_input: np.ndarray,
              placement: Placement, options: ReconstructOptions) -> Prediction:
        """All the used photos read together; photo 0's own prediction when it is alone."""
        inputs, transforms = placed_inputs(model_input, placement)
        if len(inputs) == 1:
            return prediction
        return predictor.predict_views(inputs, transforms, options.flip_average_override())

    def run(
        self,
        images: bytes | ViewRequest,
        options: ReconstructOptions,
        out_dir: Path,
        progress: ProgressFn | None = None,
        cancel: CancelFn | None = None,
    ) -> dict:
        """Reconstruct one image, or several photos of one object (a ViewRequest), into a
        bundle folder; returns result.json's content."""
        request = images if isinstance(images, ViewRequest) else ViewRequest.single(images)
        multi = request.count > 1
        shares = MULTI_STAGES if multi else STAGES
        timings: dict[str, float] = {}
        done = 0.0
        label = ""

        def report(name: str, frac: float) -> None:
            if progress:
                progress(label, done + shares[name] * min(max(frac, 0.0), 1.0))

        @contextmanager
        def stage(name: str, words: str | None = None):
            nonlocal done, label
            check_cancel(cancel)
            label = words or STAGE_LABELS[name]
            report(name, 0.0)
            start = time.perf_counter()
            yield lambda frac: report(name, frac)
            timings[name] = round(time.perf_counter() - start, 4)
            done += shares[name]

        def on_level(level: int, levels: int) -> None:
            nonlocal label
            label = sdf_label(level, levels)

        warnings: list[str] = []
        with stage("decode") as report_decode:
            loaded = load_image(request.images[0])
            extra_loaded = _each_extra(request, report_decode, cancel,
                                       lambda k: load_image(request.images[k]))
        with stage("mask") as report_mask:
            cutout, mask_method = extract_foreground(
                loaded.rgba, loaded.has_alpha, cast(BackgroundMode, options.background),
                self.device.type)
            extras = _extra_cutouts(request, extra_loaded, options, report_mask, cancel,
                                    self.device.type)
        with stage("frame"):
            framed = frame_object(cutout)
            model_input = to_model_input(framed)
            if not (model_input[..., 3] > 0.5).any():
                # Specks or hair-thin parts spread over the picture survive the mask's clean-up
                # but vanish at the model's resolution; predictors need a silhouette to work on.
                raise BackendError(
                    "no_object",
                    "The object is too thin or scattered to see at the model's resolution; "
                    "use a picture where one object fills more of the frame.",
                )
            if _touches_border(cutout):
                warnings.append("The object touches the image border; hidden parts are guessed.")
        with stage("predict"):
            predictor = self.predictor(options.predictor)
            prediction = predictor.predict(model_input, options.flip_average_override())
        placement: Placement | None = None
        if multi:
            given = request.azimuths is not None and request.elevations is not None
            words = STAGE_LABELS["poses"] + ("" if given else " (finding their poses)")
            with stage("poses", words):
                placement = place_predicted(
                    predictor, prediction, model_input, request.names[0] or options.name,
                    extras, request.azimuths, request.elevations, self.device,
                    options.flip_average_override(), cancel)
                warnings.extend(placement.warnings)
            with stage("fuse"):
                prediction = self._fuse(predictor, prediction, model_input, placement, options)
        with stage("sdf", sdf_label(1, grid_levels(options.resolution))) as report_sdf:
            grid = evaluate_coarse_to_fine(prediction.sdf, options.resolution, self.device,
                                           progress=report_sdf, cancel=cancel, on_level=on_level,
                                           search=prediction.search_sdf)
            if prediction.silhouette_fill is not None and options.silhouette_fill != "off":
                grid, _ = fill_missed_rays(grid, prediction.silhouette_fill)
        with stage("mesh"):
            verts, faces = marching_cubes(grid)
        with stage("cleanup"):
            mesh = clean_mesh(verts, faces, options.face_budget)
        with stage("texture"):
            surface = paint_surface(mesh, cutout, model_input, options,
                                    predictor.colour_function(prediction),
                                    placement.views if placement else ())
            warnings.extend(surface.warnings)
        with stage("bundle"):
            # The stages so far and their total: the bundle cannot hold its own writing time, and
            # the caller (the job's timings_s) gets this copy, so both say the same.
            timings["total"] = round(sum(timings.values()), 4)
            result = _result(predictor, str(self.device), options, mask_method, loaded,
                             timings, prediction, surface, mesh, grid, warnings)
            views = placement.views if placement else [single_view(options.name)]
            result["views"] = [v.to_json() for v in views]
            result["pose_search"] = (
                {"seconds": placement.search_s, "candidates": placement.candidates}
                if placement else None)
            write_bundle(out_dir, surface.mesh, prediction.slices,
                         framed_input_uint8(model_input), result,
                         grid.values if options.keep_sdf else None, texture=surface.texture,
                         views={v.index: framed_input_uint8(v.model_input) for v in views
                                if v.used and v.model_input is not None and v.index > 0})
        if progress:
            progress(DONE_LABEL, 1.0)
        return result


def _result(predictor: Predictor, device: str, options: ReconstructOptions, mask_method: str,
            loaded: LoadedImage, timings: dict[str, float], prediction: Prediction,
            surface: Surface, mesh: trimesh.Trimesh, grid: SdfGrid, warnings: list[str]) -> dict:
    """result.json's content but for the photos' entries (docs/API.md)."""
    result = {
        "version": __version__,
        "model": predictor.label,
        "model_kind": "baseline" if predictor.is_baseline else "network",
        "weights_sha256": predictor.weights_sha256,
        "device": device,
        "source": options.name,
        "options": options.to_json(),
        "mask_method": mask_method,
        "input_size": list(loaded.original_size),
        "timings_s": dict(timings),
        "camera": {"lens_mm": LENS_MM, "sensor_mm": SENSOR_MM, "distance": CAMERA_DISTANCE},
        "slices": [
            {"name": s.name, "axis": SLICE_AXES[s.axis], "index": s.index,
             "plane_min": round(s.lo, 6), "plane_max": round(s.hi, 6)}
            for s in prediction.slabs
        ],
        # mesh.glb's counts (a texture splits vertices along its UV seams); watertight is the
        # surface's, once those split vertices are merged by position.
        "mesh": {"vertices": len(surface.mesh.vertices), "faces": len(surface.mesh.faces),
                 "watertight": bool(mesh.is_watertight)},
        "sdf": ({"file": "sdf.npy", "bounds": [grid.lo, grid.hi],
                 "resolution": grid.resolution} if options.keep_sdf else None),
        "evaluations": grid.evaluations,
        "warnings": warnings,
    }
    result["texture"] = ({"file": TEXTURE_FILE, "size": options.texture_size}
                         if surface.texture is not None else None)
    return result


def check_cancel(cancel: CancelFn | None) -> None:
    if cancel and cancel():
        raise Cancelled()


def _each_extra(request: ViewRequest, report: Callable[[float], None],
                cancel: CancelFn | None, work: Callable[[int], object]) -> dict[int, object]:
    """``work(k)`` for every photo k >= 1, cancel honoured between photos; a photo that fails
    with a BackendError is kept as its message (it is left out, the job goes on)."""
    out: dict[int, object] = {}
    for k in range(1, request.count):
        check_cancel(cancel)
        try:
            out[k] = work(k)
        except BackendError as exc:
            out[k] = exc.message
        report(k / request.count)
    return out


def _extra_cutouts(request: ViewRequest, loaded: dict[int, object], options: ReconstructOptions,
                   report: Callable[[float], None], cancel: CancelFn | None,
                   device: str) -> list[ExtraPhoto]:
    def cut(k: int) -> object:
        image = loaded[k]
        if not isinstance(image, LoadedImage):
            return image  # why it could not be decoded
        rgba, _ = extract_foreground(image.rgba, image.has_alpha,
                                     cast(BackgroundMode, options.background), device)
        return rgba

    done = _each_extra(request, report, cancel, cut)
    return [ExtraPhoto(k, request.names[k], v if isinstance(v, np.ndarray) else None,
                       None if isinstance(v, np.ndarray) else str(v))
            for k, v in sorted(done.items())]


def _touches_border(rgba: np.ndarray) -> bool:
    alpha = rgba[..., 3] > 127
    return bool(alpha[0].any() or alpha[-1].any() or alpha[:, 0].any() or alpha[:, -1].any())


def framed_input_uint8(model_input: np.ndarray) -> np.ndarray:
    return np.clip(model_input * 255.0 + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class Surface:
    """The mesh as the bundle writes it: textured, or with vertex colours (then texture None)."""

    mesh: trimesh.Trimesh
    texture: np.ndarray | None
    warnings: tuple[str, ...] = ()


TEXTURE_FAILED = ("The texture could not be made ({reason}); the mesh carries the photo's colours "
                  "on its vertices instead, so the front's colours also show on the back.")


def paint_surface(mesh: trimesh.Trimesh, cutout: np.ndarray, model_input: np.ndarray,
                  options: ReconstructOptions, colour_at: ColourFn | None = None,
                  views: Sequence[ViewEntry] = ()) -> Surface:
    """A baked texture unless vertex colours were asked for, painted from photo 0 and every
    other used photo in ``views``; any texturing failure falls back to vertex colours (photo
    0's) with a warning a person understands, and the job still succeeds."""
    if not options.vertex_colors:
        try:
            photo = frame_object(cutout, size=options.texture_size)
            textured = texture_mesh(mesh, photo, colour_at, options.texture_size,
                                    texture_views(views, options.texture_size))
            return Surface(textured.mesh, textured.texture)
        except Exception as exc:  # noqa: BLE001 - any failure: the untextured result still stands
            reason = (str(exc) or type(exc).__name__)[:200]
            return _coloured(mesh, model_input, TEXTURE_FAILED.format(reason=reason))
    return _coloured(mesh, model_input)


def _coloured(mesh: trimesh.Trimesh, model_input: np.ndarray,
              warning: str | None = None) -> Surface:
    mesh.visual = trimesh.visual.ColorVisuals(
        mesh, vertex_colors=vertex_colours(mesh.vertices, model_input))
    return Surface(mesh, None, (warning,) if warning else ())


def texture_views(views: Sequence[ViewEntry], size: int) -> list[ViewPhoto]:
    """Each used extra photo framed at the texture's size exactly as its model input was
    (its cut-out onto the same box), so the bake can project into it."""
    return [ViewPhoto(reframe_cutout(v.cutout, v.target, size), v.transform) for v in views
            if v.used and v.index > 0 and v.cutout is not None and v.target is not None
            and v.transform is not None]


def vertex_colours(vertices: np.ndarray, model_input: np.ndarray) -> np.ndarray:
    """Colour each vertex with the input pixel it projects to (the front view's colours)."""
    pts = torch.from_numpy(np.asarray(vertices, dtype=np.float32))
    u, v, _ = project(pts[:, 0], pts[:, 1], pts[:, 2])
    grid = torch.stack([u, v], -1)
    image = torch.from_numpy(model_input[..., :3]).permute(2, 0, 1)[None]
    rgb = F.grid_sample(image, grid[None, None], mode="bilinear", padding_mode="border",
                        align_corners=False)[0, :, 0].T.numpy()
    alpha = np.full((len(rgb), 1), 1.0, dtype=np.float32)
    return np.clip(np.concatenate([rgb, alpha], 1) * 255 + 0.5, 0, 255).astype(np.uint8)
