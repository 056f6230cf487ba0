"""The textured result: unwrap the final mesh, bake the photo (and a guess for the unseen side).

``texture_mesh`` is the one entry point the pipeline calls (photo 0, and a several-photo job's
other used photos as ``ViewPhoto``s); the modules below each do one job:
``unwrap`` (xatlas UVs), ``raster`` (triangles to pixels), ``visibility`` (the input camera's
depth buffer), ``bake`` (texel colours), ``material`` (the glTF base-colour texture).
"""

from .bake import ColourFn, ViewPhoto, bake_texture
from .material import textured_trimesh
from .texturing import TexturedMesh, texture_mesh
from .unwrap import UVMesh, unwrap

__all__ = ["ColourFn", "TexturedMesh", "UVMesh", "ViewPhoto", "bake_texture", "texture_mesh",
           "textured_trimesh", "unwrap"]
