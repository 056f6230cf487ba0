"""The automatic pose search (backend/multiview/pose_search.py) on a case whose truth is known:
an asymmetric object photographed from known cameras, each photo framed as the backend frames
any photo (so its scale and position say nothing)."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from multiview_scene import known_object, photograph

from backend.errors import Cancelled
from backend.framing import frame_object, to_model_input
from backend.multiview.pose_search import PhotoTarget, reference_colours, search_poses
from backend.multiview.poses import view_rotation
from backend.multiview.shape import shape_from_mesh

REFERENCE_ELEVATION = 15.0
TRUTH = [(90.0, 15.0), (200.0, 30.0), (300.0, 0.0)]


def angle_error(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


@pytest.fixture(scope="module")
def scene():
    mesh = known_object()
    reference = to_model_input(photograph(mesh, 0.0, REFERENCE_ELEVATION, size=128))
    vertices = np.asarray(mesh.vertices) @ view_rotation(0.0, REFERENCE_ELEVATION).T
    shape = shape_from_mesh(vertices, np.asarray(mesh.faces))
    photos = [PhotoTarget.from_model_input(to_model_input(frame_object(
        photograph(mesh, az, el, size=300, scale=0.8)))) for az, el in TRUTH]
    return shape, reference, photos


def test_azimuths_and_elevations_found(scene):
    shape, reference, photos = scene
    result = search_poses(shape, reference, photos)
    assert angle_error(result.reference_elevation, REFERENCE_ELEVATION) <= 10
    for found, (az, el) in zip(result.poses, TRUTH, strict=True):
        assert angle_error(found.azimuth, az) <= 10, (found, az)
        assert abs(found.elevation - el) <= 15, (found, el)
        assert 0.85 <= found.confidence <= 1.0


def test_given_elevations_are_kept_and_azimuths_found(scene):
    shape, reference, photos = scene
    elevations = [REFERENCE_ELEVATION] + [el for _, el in TRUTH]
    result = search_poses(shape, reference, photos, elevations=elevations)
    assert result.reference_elevation == REFERENCE_ELEVATION
    for found, (az, el) in zip(result.poses, TRUTH, strict=True):
        assert found.elevation == el
        assert angle_error(found.azimuth, az) <= 10


def test_another_object_gets_a_low_confidence(scene):
    shape, reference, _ = scene
    ring = trimesh.creation.annulus(0.1, 0.3, 0.05)  # a flat ring: nothing like the object
    ring.vertices -= ring.bounding_box.centroid
    stranger = PhotoTarget.from_model_input(to_model_input(frame_object(
        photograph(ring, 30.0, 40.0, size=256))))
    found = search_poses(shape, reference, [stranger]).poses[0]
    assert found.confidence < 0.75  # the true poses above score 0.85 and more


def test_cancel_stops_the_search(scene):
    shape, reference, photos = scene
    with pytest.raises(Cancelled):
        search_poses(shape, reference, photos, cancel=lambda: True)


def test_reference_colours_are_read_per_point():
    box = trimesh.creation.box((0.4, 0.4, 0.4))
    shape = shape_from_mesh(np.asarray(box.vertices), np.asarray(box.faces))
    image = np.ones((128, 128, 4), np.float32)
    image[:, :64, :3] = 0.0  # the left half of the picture is black
    seen = reference_colours(shape, image)
    assert len(seen.points) == len(seen.colours) > 100
    hidden = seen.points[:, 2] < 0.15  # the back and most of the sides are not seen
    assert float(hidden.float().mean()) < 0.02
    left = seen.points[:, 0] < -0.05
    right = seen.points[:, 0] > 0.05
    assert float(seen.colours[left].mean()) < 0.1 and float(seen.colours[right].mean()) > 0.9


def own_shape(mesh: trimesh.Trimesh, azimuth: float, elevation: float, depth: float = 1.0):
    """The mesh in the view frame of a camera at (azimuth, elevation), its depth along the view
    axis scaled by ``depth`` (below 1: a guess of the hidden side that is too thin)."""
    vertices = np.asarray(mesh.vertices) @ view_rotation(azimuth, elevation).T
    vertices[:, 2] *= depth
    return shape_from_mesh(vertices, np.asarray(mesh.faces))


def test_both_ways_scoring_recovers_poses_that_a_thin_reference_guess_misses(scene):
    _, reference, photos = scene
    mesh = known_object()
    thin = own_shape(mesh, 0.0, REFERENCE_ELEVATION, depth=0.25)
    elevations = [REFERENCE_ELEVATION] + [el for _, el in TRUTH]
    one_way = search_poses(thin, reference, photos, elevations=elevations)
    own = [own_shape(mesh, az, el) for az, el in TRUTH]
    both = search_poses(thin, reference, photos, elevations=elevations, photo_shapes=own)
    truth = [az for az, _ in TRUTH]
    errors_one = [angle_error(f.azimuth, az) for f, az in zip(one_way.poses, truth, strict=True)]
    errors_both = [angle_error(f.azimuth, az) for f, az in zip(both.poses, truth, strict=True)]
    assert max(errors_one) > 30, errors_one  # the thin guess alone is misled
    assert max(errors_both) <= 15, (errors_one, errors_both)
    with pytest.raises(ValueError, match="one coarse shape per extra photo"):
        search_poses(thin, reference, photos, photo_shapes=own[:1])
