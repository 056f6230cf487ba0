"""backend.texture.texturing + material: the glb carries UVs and the baked base colour."""

from __future__ import annotations

import numpy as np
import trimesh

from backend.texture import texture_mesh

ORANGE = (230, 120, 30)


def test_glb_round_trips_uvs_and_texture(tmp_path):
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    image = np.zeros((128, 128, 4), np.uint8)
    image[...] = (*ORANGE, 255)
    textured = texture_mesh(mesh, image, size=512)
    assert textured.texture.shape == (512, 512, 3)
    textured.mesh.export(tmp_path / "mesh.glb")
    loaded = trimesh.load(tmp_path / "mesh.glb", force="mesh")
    assert isinstance(loaded.visual, trimesh.visual.TextureVisuals)
    material = loaded.visual.material
    assert material.baseColorTexture.size == (512, 512)
    np.testing.assert_array_equal(np.asarray(material.baseColorTexture.convert("RGB")),
                                  textured.texture)
    uvs = np.asarray(loaded.visual.uv)
    assert len(uvs) == len(loaded.vertices) and uvs.min() >= 0.0 and uvs.max() <= 1.0
    colours = np.asarray(loaded.visual.to_color().vertex_colors, float)[:, :3]
    np.testing.assert_allclose(colours, np.tile(ORANGE, (len(colours), 1)), atol=3)
    loaded.merge_vertices(merge_tex=True, merge_norm=True)
    assert loaded.is_watertight and len(loaded.faces) == len(mesh.faces)
