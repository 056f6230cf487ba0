"""The unwrapped mesh with its texture as a glTF base colour (pbrMetallicRoughness)."""

from __future__ import annotations

import numpy as np
import trimesh
from PIL import Image
from trimesh.visual.material import PBRMaterial
from trimesh.visual.texture import TextureVisuals

from .unwrap import UVMesh

ROUGHNESS = 0.8  # a photo's colours already hold its highlights: keep the material matte


def textured_trimesh(uv: UVMesh, normals: np.ndarray, texture: np.ndarray) -> trimesh.Trimesh:
    """A trimesh that exports as glTF with UVs and ``baseColorTexture`` = texture.

    The normals are the unsplit mesh's, so the UV seams' split vertices shade as one surface.
    """
    material = PBRMaterial(name="slice3d_texture", baseColorTexture=Image.fromarray(texture, "RGB"),
                           metallicFactor=0.0, roughnessFactor=ROUGHNESS, doubleSided=False)
    mesh = trimesh.Trimesh(vertices=uv.vertices, faces=uv.faces, vertex_normals=normals,
                           process=False)
    mesh.visual = TextureVisuals(uv=uv.uvs, material=material)
    return mesh
