"""``photo-val``: held-out shapes of existing data sets, with a Cycles render as the input image.

Models are chosen on this set: its inputs are path-traced under real HDRI lighting, nearer to a
photograph than the ray-cast inputs the model trains on. The shapes are the named split of the
given sets' plans (so they stay disjoint from training); the slices, SDF points, view and meshes
are made exactly as ``build`` makes them, and shards, sidecars, plan and manifest use its format,
so ``training.evaluate --data OUT --split SPLIT`` reads it unchanged. Each sidecar lists the
HDRI, rotation, strength and material each sample used. Resumable like ``build``.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from training.data.colors import SurfaceIndex, material_look, surface_colors
from training.data.cycles import SAMPLES, list_hdris, render_cycles
from training.data.pipeline import IMAGE_SIZE, POINTS, Timer, make_samples
from training.data.shading import random_colour
from training.data.shards import write_json, write_manifest, write_mesh, write_shard
from training.data.sources import get_source
from training.data.sources.base import Dropped, Shape, stable_seed
from training.data.views import View

SHAPES_PER_SHARD = 8
STRENGTH_RANGE = (0.6, 1.8)  # HDRI strength, log-uniform: dim rooms to bright daylight


def held_out_shapes(sets: list[Path], split: str) -> dict[str, list[tuple[str, str]]]:
    """(shape_id, family) per source, in plan order, of ``split`` in every set (each id once)."""
    seen: set[str] = set()
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for d in sets:
        plan = Path(d) / "plan.json"
        if not plan.is_file():
            raise ValueError(f"{d} is not a data set: it has no plan.json")
        for unit in json.loads(plan.read_text())["units"]:
            if unit["split"] != split:
                continue
            for shape_id, family in unit["shapes"]:
                if shape_id not in seen:
                    seen.add(shape_id)
                    out[unit["source"]].append((shape_id, family))
    return dict(out)


def plan_units(
    sets: list[Path], split: str, shapes: int, views: int, points: int = POINTS
) -> list[dict]:
    """Up to ``shapes`` held-out shapes per source, grouped into shards (``build``'s units)."""
    units = []
    for source, listed in sorted(held_out_shapes(sets, split).items()):
        mine = listed[:shapes]
        for k in range(0, len(mine), SHAPES_PER_SHARD):
            units.append(
                {
                    "path": f"{split}/{source}-{k // SHAPES_PER_SHARD:05d}.npz",
                    "split": split,
                    "source": source,
                    "shapes": [list(s) for s in mine[k : k + SHAPES_PER_SHARD]],
                    "views": views,
                    "points": points,
                }
            )
    return units


def photo_setup(shape_id: str, index: int, hdris: list[Path]) -> dict:
    """The lighting and plain material of one sample, from its own seed (stable on re-runs)."""
    rng = np.random.default_rng(stable_seed(shape_id, index, "photo-val"))
    return {
        "hdri": hdris[int(rng.integers(len(hdris)))].name,
        "rotation_deg": float(rng.uniform(0.0, 360.0)),
        "strength": float(np.exp(rng.uniform(*np.log(STRENGTH_RANGE)))),
        "base_color": [float(c) for c in random_colour(rng)],
        "roughness": float(rng.uniform(0.2, 0.9)),
        "metallic": float(rng.random() < 0.1),
    }


def photo_samples(
    shape: Shape, rng: np.random.Generator, views: int, points: int, samples: int, timer: Timer
) -> tuple[list[dict], list[dict]]:
    """``build``'s samples of one shape with Cycles inputs. ``rng`` is the generator that loaded
    the shape, as in ``build``, so the views are the first ``views`` of the source set's.
    ``samples`` 0 keeps the ray-cast input: the paired twin of the same samples."""
    got = make_samples(shape, views, rng, timer, points)
    if samples <= 0:
        return got, []
    hdris = {p.name: p for p in list_hdris()}
    setups = []
    index = SurfaceIndex(shape.mesh, getattr(shape.sampler, "sdf", None))
    for k, sample in enumerate(got):
        setup = photo_setup(shape.shape_id, k, list(hdris.values()))
        t = time.perf_counter()
        view = View(*(float(x) for x in sample["view"]))
        sample["image"] = render_cycles(
            shape.mesh,
            view,
            hdris[setup["hdri"]],
            setup["rotation_deg"],
            setup["strength"],
            IMAGE_SIZE,
            samples,
            base_color=tuple(setup["base_color"]),
            roughness=setup["roughness"],
            metallic=setup["metallic"],
        )
        timer.add("cycles", t)
        # the Cycles material is the mesh's own (or the setup's base colour), never the look's
        look = material_look(setup["base_color"])
        sample["colors"] = surface_colors(index, look, view, sample["points"])
        setups.append({"shape_id": shape.shape_id, "view": k, **setup})
    return got, setups


def run_unit(out: Path, unit: dict, samples: int = SAMPLES) -> dict:
    """Make one shard, its meshes and its sidecar; returns the sidecar."""
    src = get_source(unit["source"])
    timer = Timer()
    made: list[dict] = []
    photo: list[dict] = []
    dropped: dict[str, int] = defaultdict(int)
    families: dict[str, int] = defaultdict(int)
    for shape_id, _ in unit["shapes"]:
        t = time.perf_counter()
        rng = np.random.default_rng(stable_seed(shape_id, "build"))
        try:
            shape = src.load(shape_id, rng)
        except Exception as exc:  # a broken file must not stop the set
            shape = Dropped(shape_id, f"load_error:{type(exc).__name__}")
        timer.add("prep", t)
        if isinstance(shape, Dropped):
            dropped[shape.reason] += 1
            continue
        got, setups = photo_samples(shape, rng, unit["views"], unit["points"], samples, timer)
        made += got
        photo += setups
        families[shape.family] += len(got)
        write_mesh(out / "meshes" / f"{shape_id}.npz", shape.mesh)
    if made:
        write_shard(out / unit["path"], made)
    side = {
        "split": unit["split"],
        "source": unit["source"],
        "samples": len(made),
        "families": dict(families),
        "dropped": dict(dropped),
        "seconds": dict(timer.seconds),
        "shapes": [i for i, _ in unit["shapes"]],
        "views": unit["views"],
        "renderer": (
            {"engine": "cycles", "samples": samples, "denoiser": "openimagedenoise"}
            if samples > 0
            else {"engine": "raycast"}
        ),
        "photo": photo,
    }
    write_json((out / unit["path"]).with_suffix(".json"), side)
    return side


def is_done(out: Path, unit: dict) -> bool:
    """Done when the sidecar exists and lists the same shapes and views (as in ``build``)."""
    side = (out / unit["path"]).with_suffix(".json")
    if not side.exists():
        return False
    info = json.loads(side.read_text())
    return info["shapes"] == [i for i, _ in unit["shapes"]] and info.get("views") == unit["views"]


def build_photo_val(
    out: Path,
    sets: list[Path],
    split: str = "val",
    shapes: int = 16,
    views: int = 2,
    points: int = POINTS,
    samples: int = SAMPLES,
) -> dict:
    """Build (or resume) the photo-like set in ``out``; returns the manifest. ``samples`` 0
    makes its ray-cast twin (same shapes, views and points; the builder's own input image)."""
    units = plan_units(sets, split, shapes, views, points)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "plan.json", {"units": units, "from": [str(s) for s in sets]})
    todo = [u for u in units if not is_done(out, u)]
    print(f"{len(units) - len(todo)} of {len(units)} shards done; {len(todo)} to make in {out}")
    for n, unit in enumerate(todo, 1):
        t = time.perf_counter()
        side = run_unit(out, unit, samples)
        write_manifest(out, points)
        print(
            f"[{n}/{len(todo)}] {unit['path']}: {side['samples']} samples in "
            f"{time.perf_counter() - t:.0f} s (cycles {side['seconds'].get('cycles', 0):.0f} s)"
            + (f", dropped {side['dropped']}" if side["dropped"] else ""),
            flush=True,
        )
    return write_manifest(out, points)
