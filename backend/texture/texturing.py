"""Texture one final mesh: unwrap, bake, and the glTF-ready mesh that carries it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import trimesh

from .bake import ColourFn, ViewPhoto, bake_texture
from .material import textured_trimesh
from .unwrap import unwrap

# xatlas's time grows faster than the face count (docs/API.md: about 3 s at 50,000 faces and
# 30 s at 100,000 on a loaded 2-core CPU); above this a job would spend minutes on its texture,
# so it keeps vertex colours and says why.
MAX_TEXTURED_FACES = 100_000


@dataclass(frozen=True)
class TexturedMesh:
    mesh: trimesh.Trimesh  # split along UV seams; visual: TextureVisuals with the texture
    texture: np.ndarray  # uint8 [size, size, 3], the same image as the material's


def texture_mesh(mesh: trimesh.Trimesh, photo: np.ndarray, colour_at: ColourFn | None = None,
                 size: int = 1024, views: Sequence[ViewPhoto] = ()) -> TexturedMesh:
    """The mesh with UVs and a baked base-colour texture of size x size texels, painted from
    ``photo`` (the reference) and the job's other used photos ``views``.

    Raises on any failure (an empty mesh, an atlas xatlas cannot make): the caller falls back to
    vertex colours and says so.
    """
    if len(mesh.faces) > MAX_TEXTURED_FACES:
        raise ValueError(f"the mesh has {len(mesh.faces)} faces, more than the "
                         f"{MAX_TEXTURED_FACES} a texture is made for; lower face_budget")
    uv = unwrap(mesh.vertices, mesh.faces, size)
    normals = np.asarray(mesh.vertex_normals, dtype=np.float64)[uv.source]
    texture = bake_texture(uv, normals, photo, colour_at, size, views)
    return TexturedMesh(mesh=textured_trimesh(uv, normals, texture), texture=texture)
