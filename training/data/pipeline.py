"""One (shape, view) -> one training sample: input image, 12 slices, SDF points. Shared by the
builder, the benchmark and the contact sheet so all three measure and show the same thing."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from training.data.colors import SurfaceIndex, surface_colors
from training.data.raycast import Caster
from training.data.render import render_input, render_slices, view_frame
from training.data.shading import random_look
from training.data.sources.base import Shape
from training.data.views import View, sample_view

IMAGE_SIZE = 256
SLICE_SIZE = 128
POINTS = 8192


@dataclass
class Timer:
    """Seconds spent per stage (prep, render, sdf)."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def add(self, stage: str, t0: float) -> float:
        t = time.perf_counter()
        self.seconds[stage] += t - t0
        return t


def make_samples(
    shape: Shape,
    n_views: int,
    rng: np.random.Generator,
    timer: Timer,
    points: int = POINTS,
    views: list[View] | None = None,
) -> list[dict]:
    """Render and sample ``n_views`` random views of one shape (``views`` overrides them).

    ``colors`` is the base colour of the surface nearest each SDF point under the sample's own
    look (computed on the float16 points the shard keeps, as the ``colors`` backfill does)."""
    t = time.perf_counter()
    caster = Caster(shape.mesh)
    index = SurfaceIndex(shape.mesh, getattr(shape.sampler, "sdf", None))
    t = timer.add("prep", t)
    out = []
    for view in views or [sample_view(rng) for _ in range(n_views)]:
        frame = view_frame(shape.mesh, view)
        look = random_look(rng)
        image = render_input(caster, view, look, IMAGE_SIZE)
        slices = render_slices(caster, view, frame, SLICE_SIZE)
        t = timer.add("render", t)
        pts, sdf = shape.sampler.sample(view, rng, points)
        pts16 = pts.astype(np.float16)
        t = timer.add("sdf", t)
        colors = surface_colors(index, look, view, pts16)
        t = timer.add("color", t)
        out.append(
            {
                "image": image,
                "slices": slices,
                "points": pts16,
                "sdf": sdf.astype(np.float16),
                "colors": colors,
                "slab_bounds": frame.slab_bounds,
                "bbox": np.stack([frame.bmin, frame.bmax]).astype(np.float32),
                "object_to_view": view.matrix.astype(np.float32),
                "view": view.as_array(),
                "shape_id": shape.shape_id,
                "source": shape.source,
                "family": shape.family,
            }
        )
    return out
