"""Re-framing (backend/multiview/reframe.py): photo k, framed any way, is put back where the
reference shape's projection through camera k says it belongs."""

from __future__ import annotations

import numpy as np
import pytest
from multiview_scene import known_object, photograph

from backend.framing import frame_object
from backend.multiview.poses import view_rotation, view_transform
from backend.multiview.reframe import Box, mask_box, projected_box, reframe_cutout


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a[..., 3] > 127, b[..., 3] > 127
    return float((a & b).sum() / (a | b).sum())


@pytest.mark.parametrize("azimuth,elevation", [(90.0, 15.0), (200.0, 30.0)])
def test_reframed_photo_matches_the_true_framing(azimuth, elevation):
    mesh = known_object()
    ref_el = 15.0
    truth = photograph(mesh, azimuth, elevation, size=128)
    # the user's photo: another scale and position in a larger frame, then cut out as the
    # backend does (frame_object centres it and fixes its size)
    photo = photograph(mesh, azimuth, elevation, size=400, scale=0.7, shift=(0.2, -0.1))
    cutout = frame_object(photo)
    assert iou(cutout, truth) < 0.8  # the plain framing does not line up
    reference_vertices = np.asarray(mesh.vertices) @ view_rotation(0.0, ref_el).T
    target = projected_box(reference_vertices, view_transform(azimuth, ref_el, elevation))
    reframed = reframe_cutout(photo, target)
    assert reframed.shape == (128, 128, 4)
    assert iou(reframed, truth) > 0.93
    got, want = mask_box(reframed[..., 3]), mask_box(truth[..., 3])
    for a, b in zip((got.left, got.top, got.right, got.bottom),
                    (want.left, want.top, want.right, want.bottom), strict=True):
        assert a == pytest.approx(b, abs=2.5 / 64)  # within two and a half pixels


def test_a_flat_box_is_scaled_by_its_width():
    strip = np.zeros((50, 200, 4), np.uint8)
    strip[24:26, 20:180] = 255  # 160 wide, 2 tall
    target = Box(-0.5, -0.01, 0.5, 0.0)  # too flat for its height to say anything
    out = reframe_cutout(strip, target)
    box = mask_box(out[..., 3])
    assert box.width == pytest.approx(1.0, abs=2 / 64)


def test_empty_mask_is_refused():
    with pytest.raises(ValueError):
        reframe_cutout(np.zeros((8, 8, 4), np.uint8), Box(-0.5, -0.5, 0.5, 0.5))


def test_a_sliver_under_a_tall_box_stays_bounded():
    sliver = np.zeros((40, 3000, 4), np.uint8)
    sliver[20, :] = 255  # one pixel tall, the whole width
    out = reframe_cutout(sliver, Box(-0.3, -0.8, 0.3, 0.8))
    assert out.shape == (128, 128, 4) and out[..., 3].any()
