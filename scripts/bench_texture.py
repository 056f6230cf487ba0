"""Unwrap and bake seconds against the face count (docs/API.md, the texture's cost).

    PYTHONPATH=. nice -n 10 .venv/bin/python scripts/bench_texture.py [--faces N ...] [--size 1024]

The mesh is a marching-cubes blob (an ellipsoid with a rippled surface, about the size of a
reconstruction in the view frame) simplified to each face count by the pipeline's own clean-up;
the photo is a random-coloured 1024 px square. One JSON line per face count.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
from skimage import measure

from backend.mesh_cleanup import clean_mesh
from backend.texture.bake import bake_texture
from backend.texture.unwrap import unwrap


def blob(resolution: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A rippled ellipsoid of diagonal about 0.9 in the view frame, marching cubes at resolution."""
    g = np.linspace(-0.5, 0.5, resolution)
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    sdf = (np.sqrt(x**2 / 0.5 + y**2 + z**2 / 0.7) - 0.35
           + 0.02 * np.sin(25 * x) * np.cos(20 * y))
    verts, faces, _, _ = measure.marching_cubes(sdf, 0.0, spacing=(g[1] - g[0],) * 3)
    return verts - 0.5, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, nargs="+",
                        default=[10_000, 25_000, 50_000, 100_000, 200_000])
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    verts, faces = blob()
    rng = np.random.default_rng(0)
    photo = np.concatenate([rng.integers(0, 256, (1024, 1024, 3)),
                            np.full((1024, 1024, 1), 255)], -1).astype(np.uint8)
    for budget in args.faces:
        mesh = clean_mesh(verts, faces, budget)
        start, cpu = time.perf_counter(), time.process_time()
        uv = unwrap(mesh.vertices, mesh.faces, args.size)
        unwrapped, unwrap_cpu = time.perf_counter(), time.process_time()
        bake_texture(uv, np.asarray(mesh.vertex_normals)[uv.source], photo, size=args.size)
        baked, bake_cpu = time.perf_counter(), time.process_time()
        print(json.dumps({"faces": len(mesh.faces), "size": args.size,
                          "unwrap_s": round(unwrapped - start, 2),
                          "bake_s": round(baked - unwrapped, 2),
                          "total_s": round(baked - start, 2),
                          "unwrap_cpu_s": round(unwrap_cpu - cpu, 2),
                          "bake_cpu_s": round(bake_cpu - unwrap_cpu, 2),
                          "load_average": round(os.getloadavg()[0], 1)}), flush=True)


if __name__ == "__main__":
    main()
