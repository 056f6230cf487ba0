"""UV unwrapping with xatlas: the mesh split along its seams, with UVs in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xatlas

# xatlas's default charts grow large and its parameterisation cost grows faster than the face
# count (25k faces: 16 s on a 2-core CPU). Capping each chart's area at 1/CHARTS_PER_AREA of the
# surface and skipping the chart-merging iterations gives many small charts at a fraction of that
# (25k faces: about 1.3 s), with a little more seam length.
CHARTS_PER_AREA = 400.0
# xatlas packs the charts on a grid PACK_SHARE of the texture's size, PACK_PADDING grid texels
# apart. Its packing time grows with the grid: against packing on the texture's own grid two
# texels apart, this took 23% less time over 18 network meshes at 1024 (10-40% less at 512 and
# 2048), covered as many texels or more (2.5% more on average at 1024), and left gutters as wide:
# another chart's nearest texel 3 or more texels away (docs/BENCHMARKS.md).
PACK_SHARE = 0.625
PACK_PADDING = 1


@dataclass(frozen=True)
class UVMesh:
    """The unwrapped mesh: vertices split along UV seams, ``source[i]`` = the input vertex."""

    vertices: np.ndarray  # float [V', 3]
    faces: np.ndarray  # int [F, 3], the input's faces in the input's order
    uvs: np.ndarray  # float [V', 2] in [0, 1], v up (OpenGL; glTF export flips it)
    source: np.ndarray  # int [V'] index into the input vertices


def unwrap(vertices: np.ndarray, faces: np.ndarray, texture_size: int = 1024) -> UVMesh:
    """Charts and a packed atlas for a texture of texture_size texels a side."""
    vertices = np.ascontiguousarray(vertices, dtype=np.float32)
    faces = np.ascontiguousarray(faces, dtype=np.uint32)
    if len(faces) == 0 or len(vertices) == 0:
        raise ValueError("cannot unwrap an empty mesh")
    tri = vertices[faces.astype(np.int64)]
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    charts = xatlas.ChartOptions()
    charts.max_iterations = 0
    charts.max_chart_area = float(area.sum()) / CHARTS_PER_AREA
    pack = xatlas.PackOptions()
    pack.resolution = round(int(texture_size) * PACK_SHARE)
    pack.padding = PACK_PADDING
    pack.bilinear = True
    pack.blockAlign = True
    atlas = xatlas.Atlas()
    atlas.add_mesh(vertices, faces)
    atlas.generate(charts, pack)
    source, new_faces, uvs = atlas[0] if hasattr(atlas, "__getitem__") else atlas.get_mesh(0)
    if len(new_faces) != len(faces) or not np.isfinite(uvs).all():
        raise ValueError("xatlas returned an incomplete atlas")
    return UVMesh(vertices=vertices[source].astype(np.float64), faces=new_faces.astype(np.int64),
                  uvs=np.clip(uvs, 0.0, 1.0).astype(np.float64), source=source.astype(np.int64))
