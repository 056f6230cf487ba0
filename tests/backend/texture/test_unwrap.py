"""backend.texture.unwrap: xatlas charts for the final mesh, UVs in [0, 1], faces kept."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from backend.texture.raster import rasterize
from backend.texture.unwrap import unwrap


def test_unwrap_keeps_every_face_and_position():
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    uv = unwrap(mesh.vertices, mesh.faces, 512)
    assert uv.faces.shape == mesh.faces.shape
    assert len(uv.uvs) == len(uv.vertices) == len(uv.source) >= len(mesh.vertices)
    assert uv.uvs.min() >= 0.0 and uv.uvs.max() <= 1.0
    np.testing.assert_allclose(uv.vertices, mesh.vertices[uv.source], atol=1e-6)
    # Face k is still face k: the same corners, in the same order.
    np.testing.assert_allclose(uv.vertices[uv.faces], mesh.vertices[mesh.faces], atol=1e-6)


def test_charts_do_not_overlap():
    """Every face gets its own texels: rasterised in UV space, no texel is claimed twice."""
    mesh = trimesh.creation.icosphere(subdivisions=2, radius=0.3)
    uv = unwrap(mesh.vertices, mesh.faces, 512)
    pix = np.stack([uv.uvs[:, 0] * 512, (1 - uv.uvs[:, 1]) * 512], -1)[uv.faces]
    face, _ = rasterize(pix, 512, 512)
    texels = np.bincount(face[face >= 0], minlength=len(uv.faces))
    area = 0.5 * np.abs(np.cross(pix[:, 1] - pix[:, 0], pix[:, 2] - pix[:, 0]))
    assert texels.sum() <= area.sum() * 1.05 + 50  # no more texels than the charts' own area
    assert (texels > 0).mean() > 0.9


@pytest.mark.parametrize(("vertices", "faces"), [
    (np.zeros((0, 3)), np.zeros((0, 3), int)),  # nothing to unwrap
    (np.zeros((3, 3)), np.array([[0, 1, 2]])),  # one triangle of zero area: xatlas drops it
])
def test_unusable_mesh_raises(vertices, faces):
    with pytest.raises(ValueError):
        unwrap(vertices, faces)


@pytest.mark.parametrize("size", [512, 1024])
def test_charts_keep_a_gutter(size):
    """Packed on a smaller grid than the texture (PACK_SHARE), the charts still lie apart at the
    texture's size: no texel of one chart within 2 texels of another chart's, so the bake's
    padding and bilinear reads never mix two charts. And they fill as much of the texture as
    packing on its own grid did (0.41 of it at 512, 0.49 at 1024; now 0.43 and 0.50)."""
    mesh = trimesh.creation.icosphere(subdivisions=3, radius=0.3)
    mesh.vertices *= 1 + 0.1 * np.sin(8 * mesh.vertices[:, :1])  # bumps: charts of many shapes
    uv = unwrap(mesh.vertices, mesh.faces, size)
    links = np.concatenate([uv.faces[:, [0, 1]], uv.faces[:, [1, 2]]])
    graph = coo_matrix((np.ones(len(links)), (links[:, 0], links[:, 1])),
                       shape=(len(uv.uvs),) * 2)
    _, vertex_chart = connected_components(graph, directed=False)
    chart = vertex_chart[uv.faces[:, 0]]
    pix = np.stack([uv.uvs[:, 0] * size, (1 - uv.uvs[:, 1]) * size], -1)[uv.faces]
    face, _ = rasterize(pix, size, size)
    ids = np.where(face >= 0, chart[np.maximum(face, 0)], -1)
    assert len(np.unique(ids[ids >= 0])) > 10  # many charts, so many gutters are tested
    highest = ndimage.maximum_filter(ids, size=5, mode="constant", cval=-1)
    lowest = ndimage.minimum_filter(np.where(ids < 0, len(uv.faces), ids), size=5,
                                    mode="constant", cval=len(uv.faces))
    assert not ((ids >= 0) & ((highest != ids) | (lowest != ids))).any()
    assert (face >= 0).mean() > 0.42
