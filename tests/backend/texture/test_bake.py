"""backend.texture.bake: a known box under a known photo gives the texel colours it must."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import trimesh

from backend.multiview.poses import view_transform
from backend.srgb import linear_to_srgb, srgb_to_linear
from backend.texture.bake import (
    LEVEL_GAIN,
    LEVEL_TEXELS,
    ViewPhoto,
    bake_texture,
    facing_cosine,
    pad,
    seen_weight,
)
from backend.texture.delight import LUMA
from backend.texture.raster import rasterize
from backend.texture.unwrap import UVMesh, unwrap
from backend.texture.visibility import CameraDepth

GREEN, RED, MAGENTA = (40, 160, 60), (220, 30, 30), (1.0, 0.0, 1.0)
BLUE, YELLOW = (30, 60, 210), (230, 210, 40)
DARK_RED = (110, 20, 20)
SIZE = 256


def photo(size: int = 64) -> np.ndarray:
    """Green everywhere, a red square in the middle (NDC |u|, |v| < 0.2), fully opaque."""
    image = np.zeros((size, size, 4), np.uint8)
    image[...] = (*GREEN, 255)
    lo, hi = int(size * 0.4), int(size * 0.6)
    image[lo:hi, lo:hi, :3] = RED
    return image


def plain(colour: tuple[int, int, int], size: int = 64) -> np.ndarray:
    """One opaque colour over the whole frame."""
    image = np.zeros((size, size, 4), np.uint8)
    image[...] = (*colour, 255)
    return image


def linear_head(points: np.ndarray) -> np.ndarray:
    return np.clip(0.5 + points * np.array([1.0, 1.5, -1.0]), 0.0, 1.0)


@pytest.fixture(scope="module")
def box() -> tuple[UVMesh, np.ndarray]:
    """A 0.4 box at the origin: its front face (z = 0.2) looks at the camera, its back hides."""
    mesh = trimesh.creation.box(extents=(0.4, 0.4, 0.4)).subdivide().subdivide()
    uv = unwrap(mesh.vertices, mesh.faces, SIZE)
    return uv, np.asarray(mesh.vertex_normals)[uv.source]


def texel_at(uv: UVMesh, texture: np.ndarray, point: np.ndarray) -> np.ndarray:
    """The texture's colour (0..255) at a surface point, through the face that holds it."""
    tri = uv.vertices[uv.faces]
    bary = trimesh.triangles.points_to_barycentric(tri, np.repeat(point[None], len(tri), 0))
    on_plane = np.abs(np.einsum("kj,kjc->kc", bary, tri) - point).max(1) < 1e-6
    inside = np.flatnonzero(on_plane & (bary.min(1) >= -1e-9))
    assert inside.size, point
    texel_uv = bary[inside[0]] @ uv.uvs[uv.faces[inside[0]]]
    col, row = int(texel_uv[0] * texture.shape[1]), int((1 - texel_uv[1]) * texture.shape[0])
    return texture[row, col].astype(float)


def assert_photo_colour(got: np.ndarray, colour: tuple[int, int, int]) -> None:
    """A texel painted from a photo's colour: its hue, and its brightness or more, never less
    (the de-light brings each texel up to the best-lit seen texel's light; on these flat photos
    the box's edges, whose normals lean, read as a little better lit than the face)."""
    want = np.asarray(colour, float)
    np.testing.assert_allclose(got / got.sum(), want / want.sum(), atol=0.03)
    assert want.sum() - 12 <= got.sum() <= 1.3 * want.sum(), (got, colour)


def test_front_takes_the_photo_and_the_back_does_not(box):
    uv, normals = box
    texture = bake_texture(uv, normals, photo(), size=SIZE)
    assert texture.shape == (SIZE, SIZE, 3) and texture.dtype == np.uint8
    front_red = texel_at(uv, texture, np.array([0.03, 0.02, 0.2]))
    front_green = texel_at(uv, texture, np.array([0.15, -0.12, 0.2]))
    back = texel_at(uv, texture, np.array([0.03, 0.02, -0.2]))  # right behind the red square
    assert_photo_colour(front_red, RED)
    assert_photo_colour(front_green, GREEN)
    assert_photo_colour(back, GREEN)  # the median colour, not the front's red


def test_a_colour_head_paints_what_the_photo_does_not_show(box):
    uv, normals = box

    def colour_at(points: np.ndarray) -> np.ndarray:
        return np.tile(MAGENTA, (len(points), 1))

    texture = bake_texture(uv, normals, photo(), colour_at, size=SIZE)
    np.testing.assert_allclose(texel_at(uv, texture, np.array([0.03, 0.02, -0.2])),
                               [255, 0, 255], atol=2)
    assert_photo_colour(texel_at(uv, texture, np.array([0.03, 0.02, 0.2])), RED)


@pytest.mark.parametrize("head_gain", [0.6, 1.5, 4.0])
def test_a_colour_head_sets_the_level_of_the_photo_colours_and_keeps_their_hue(box, head_gain):
    """The photo shows a dark red box; a head that says the object is a grey ``head_gain``
    times as bright brings the front's red to that luminance (the gain kept to LEVEL_GAIN),
    still the photo's red."""
    uv, normals = box
    front = np.array([0.03, 0.02, 0.2])
    alone = texel_at(uv, bake_texture(uv, normals, plain(DARK_RED), size=SIZE), front)
    photo_luma = srgb_to_linear(alone / 255.0) @ LUMA
    grey = linear_to_srgb(np.full(3, photo_luma * head_gain))

    def colour_at(points: np.ndarray) -> np.ndarray:
        return np.tile(grey, (len(points), 1))

    got = texel_at(uv, bake_texture(uv, normals, plain(DARK_RED), colour_at, size=SIZE), front)
    gain = float(np.clip(head_gain, *LEVEL_GAIN))
    np.testing.assert_allclose(srgb_to_linear(got / 255.0) @ LUMA, photo_luma * gain, rtol=0.06)
    np.testing.assert_allclose(srgb_to_linear(got / 255.0) / gain, srgb_to_linear(alone / 255.0),
                               atol=0.01)  # the same colour, scaled: the hue kept


def test_padding_fills_every_texel_outside_the_charts(box):
    uv, normals = box
    texture = bake_texture(uv, normals, photo(), size=SIZE)
    pix = np.stack([uv.uvs[:, 0] * SIZE, (1 - uv.uvs[:, 1]) * SIZE], -1)[uv.faces]
    covered = rasterize(pix, SIZE, SIZE)[0] >= 0
    assert 0.2 < covered.mean() < 1.0
    assert (texture[~covered].max(axis=1) > 0).all()  # no black left between the charts


def test_pad_spreads_chart_colours_a_few_texels_and_the_mean_beyond():
    texture = np.zeros((12, 12, 3), np.uint8)
    covered = np.zeros((12, 12), bool)
    texture[1, 1], covered[1, 1] = (255, 0, 0), True
    texture[10, 10], covered[10, 10] = (0, 0, 255), True
    padded = pad(texture, covered, texels=2)
    np.testing.assert_array_equal(padded[0, 0], (255, 0, 0))  # two steps from the red texel
    np.testing.assert_array_equal(padded[1, 3], (255, 0, 0))
    np.testing.assert_array_equal(padded[11, 11], (0, 0, 255))
    np.testing.assert_array_equal(padded[1, 1], (255, 0, 0))  # chart texels stay as they are
    np.testing.assert_array_equal(padded[5, 6], (128, 0, 128))  # beyond the padding: the mean


def test_seen_weight_fades_at_grazing_angles_and_is_zero_when_hidden():
    v = np.array([[-0.4, -0.4, 0.0], [0.4, -0.4, 0.0], [0.4, 0.4, 0.0], [-0.4, 0.4, 0.0]])
    depth = CameraDepth(v, np.array([[0, 1, 2], [0, 2, 3]]))
    points = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, -0.2]])
    tilt = np.radians(80.0)
    normals = np.array([[0, 0, 1.0], [np.sin(tilt), 0, np.cos(tilt)], [1.0, 0, 0], [0, 0, 1.0]])
    weight = seen_weight(points, facing_cosine(points, normals), depth)
    assert weight[0] == pytest.approx(1.0)
    assert 0.0 < weight[1] < 1.0  # cos 80 deg = 0.17: inside the blend
    assert weight[2] == 0.0 and weight[3] == 0.0  # edge-on; hidden behind the quad


def test_the_colour_head_is_asked_at_the_vertices_and_interpolated_across_faces(box):
    """A colour that varies linearly in space comes back exactly at every texel although the
    head was asked only at the mesh's vertices."""
    uv, normals = box
    asked = []

    def colour_at(points: np.ndarray) -> np.ndarray:
        asked.append(len(points))
        return linear_head(points)

    texture = bake_texture(uv, normals, photo(), colour_at, size=SIZE)
    # asked once for the photo colours' level (at well-seen texels), then at the vertices of the
    # faces the photo does not fully colour: the front's inner vertices are never asked
    assert len(asked) == 2 and 0 < asked[0] <= LEVEL_TEXELS
    assert 0 < asked[1] < len(uv.vertices)
    for point in ([0.03, 0.02, -0.2], [-0.1, 0.12, -0.2], [0.2, -0.05, -0.1]):
        p = np.array(point)
        expected = np.clip(0.5 + p * np.array([1.0, 1.5, -1.0]), 0.0, 1.0) * 255
        np.testing.assert_allclose(texel_at(uv, texture, p), expected, atol=4)


# -- several photos (issue 35): the others paint what photo 0 does not see ----------------------

BACK = np.array([0.03, 0.02, -0.2])  # right behind photo 0's red square
RIGHT = np.array([0.2, 0.05, -0.03])  # the +X face: edge-on to photos 0 and 1


def test_a_back_photo_paints_the_back(box):
    uv, normals = box
    alone = bake_texture(uv, normals, photo(), size=SIZE)
    both = bake_texture(uv, normals, photo(), size=SIZE,
                        views=[ViewPhoto(plain(BLUE), view_transform(180.0, 0.0, 0.0))])
    assert_photo_colour(texel_at(uv, alone, BACK), GREEN)  # the median guess
    assert_photo_colour(texel_at(uv, both, BACK), BLUE)
    assert_photo_colour(texel_at(uv, both, np.array([-0.12, -0.15, -0.2])), BLUE)
    for point, colour in (([0.03, 0.02, 0.2], RED), ([0.15, -0.12, 0.2], GREEN)):
        assert_photo_colour(texel_at(uv, both, np.array(point)), colour)
    assert_photo_colour(texel_at(uv, both, RIGHT), GREEN)  # neither sees it


def test_the_squarest_photo_counts_most_where_several_see_a_texel(box):
    """The +X face: square to a photo from azimuth 90, at about 45 degrees to one from 45
    (where it is fully seen too): the two blend by weight x cosine, 1 : cos 45 (perspective
    moves it a little); photo 0's front, at 45 degrees to the second photo, leans to photo 0."""
    uv, normals = box
    views = [ViewPhoto(plain(BLUE), view_transform(90.0, 0.0, 0.0)),
             ViewPhoto(plain(YELLOW), view_transform(45.0, 0.0, 0.0))]
    texture = bake_texture(uv, normals, photo(), size=SIZE, views=views)
    right = texel_at(uv, texture, RIGHT)
    share = np.dot(right - YELLOW, np.subtract(BLUE, YELLOW)) / np.sum(np.subtract(BLUE,
                                                                                   YELLOW) ** 2)
    assert 0.52 < share < 0.65, right  # 1 / (1 + cos 45) = 0.586
    front = texel_at(uv, texture, np.array([0.03, 0.02, 0.2]))
    assert np.abs(front - RED).sum() < np.abs(front - YELLOW).sum(), front


def test_an_occluded_point_takes_nothing_from_the_photo_that_cannot_see_it():
    """Two boxes one behind the other along photo 1's view: photo 1 sees the near box's face,
    not the far box's face behind it, which keeps the guess."""
    near = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    near.apply_translation((0.0, 0.0, -0.25))
    far = trimesh.creation.box(extents=(0.2, 0.2, 0.2))
    far.apply_translation((0.0, 0.0, 0.25))
    mesh = trimesh.util.concatenate([near, far]).subdivide()
    uv = unwrap(mesh.vertices, mesh.faces, SIZE)
    normals = np.asarray(mesh.vertex_normals)[uv.source]
    # photo 0 (green) sees the far box's front; photo 1 from behind (blue) sees the near box's
    # back face (z = -0.35) and not the far box's back face (z = 0.15), hidden behind it
    texture = bake_texture(uv, normals, plain(GREEN), size=SIZE,
                           views=[ViewPhoto(plain(BLUE), view_transform(180.0, 0.0, 0.0))])
    np.testing.assert_allclose(texel_at(uv, texture, np.array([0.02, 0.03, -0.35])), BLUE,
                               atol=12)
    np.testing.assert_allclose(texel_at(uv, texture, np.array([0.02, 0.03, 0.15])), GREEN,
                               atol=12)


def test_a_transparent_photo_changes_nothing(box):
    uv, normals = box
    empty = np.zeros((64, 64, 4), np.uint8)
    alone = bake_texture(uv, normals, photo(), linear_head, size=SIZE)
    np.testing.assert_array_equal(
        bake_texture(uv, normals, photo(), linear_head, size=SIZE,
                     views=[ViewPhoto(empty, view_transform(180.0, 0.0, 0.0))]), alone)


def test_without_other_photos_the_texture_is_the_one_photo_bake_byte_for_byte(box):
    """sha256 of the one-photo bake (no head; the linear head) on this box, as it stands since
    the photo's light is taken off relative to the best-lit seen texel (backend.texture.delight),
    the atlas is packed on a smaller grid (backend.texture.unwrap.PACK_SHARE) and, with a head,
    the photo colours are brought to the head's level (``head_level``): the one-photo texture
    must not move. Recompute only for a deliberate change."""
    uv, normals = box
    digests = [hashlib.sha256(bake_texture(uv, normals, photo(), head, size=SIZE).tobytes())
               .hexdigest() for head in (None, linear_head)]
    assert digests == ["3b9822c7901697a72d652bc73058778a3ec0a873d5475093223b15b2fc8c0649",
                       "7bac968e44cb2244201792bc01f733de1ac490a8108df2456b66be95e2c3be2f"]


def test_the_photos_light_is_taken_off_the_texture():
    """One orange all over, lit brighter from the left in the photo: the texture's left and
    right sides come out close in colour, where the photo's differ by half its brightness."""
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    uv = unwrap(mesh.vertices, mesh.faces, SIZE)
    normals = np.asarray(mesh.vertex_normals)[uv.source]
    u = np.linspace(-1.0, 1.0, 64)[None, :, None]
    linear_orange = np.array([0.9, 0.35, 0.08]) * (0.6 - 0.35 * u)  # brighter toward -x
    srgb = np.where(linear_orange <= 0.0031308, 12.92 * linear_orange,
                    1.055 * linear_orange ** (1 / 2.4) - 0.055)
    image = np.zeros((64, 64, 4), np.uint8)
    image[..., :3] = np.clip(srgb * 255 + 0.5, 0, 255).astype(np.uint8)
    image[..., 3] = 255
    texture = bake_texture(uv, normals, image, size=SIZE)
    left = uv.vertices[np.argmax(uv.vertices @ np.array([-0.6, 0.0, 0.8]))]
    right = uv.vertices[np.argmax(uv.vertices @ np.array([0.6, 0.0, 0.8]))]
    in_photo = np.abs(srgb[0, [16, 47]] * 255).sum(axis=1)  # about where the two points fall
    in_texture = [texel_at(uv, texture, p).sum() for p in (left, right)]
    assert in_photo[0] - in_photo[1] > 80
    assert abs(in_texture[0] - in_texture[1]) < 0.3 * (in_photo[0] - in_photo[1]), in_texture


def test_a_photo_that_shows_the_mesh_nowhere_still_gives_the_object_its_colour(box):
    """The photo's object lies in a corner the box does not project to: no texel is seen, and
    the guess is the median of the photo's own solid pixels, not grey."""
    uv, normals = box
    image = np.zeros((64, 64, 4), np.uint8)
    image[:8, :8] = (*RED, 255)
    texture = bake_texture(uv, normals, image, size=SIZE)
    for point in ([0.03, 0.02, 0.2], BACK, RIGHT):
        np.testing.assert_allclose(texel_at(uv, texture, np.array(point)), RED, atol=6)
