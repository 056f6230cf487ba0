"""backend.framing: the object centred, filling FRAMING_FILL of the frame; white composite."""

from __future__ import annotations

import numpy as np
import pytest
from backend_test_support import disc_cutout

from backend.framing import frame_object, to_model_input
from backend.geometry import FRAMING_FILL, FRAMING_KEEP_FILL, MODEL_INPUT_SIZE


def box_of(alpha: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.nonzero(alpha > 127)
    return rows.min(), rows.max() + 1, cols.min(), cols.max() + 1


@pytest.mark.parametrize(
    ("shape", "box"),
    [((300, 500), (40, 120, 300, 460)),  # wide object off to the right of a wide image
     ((600, 200), (100, 500, 20, 120)),  # tall object in a tall image
     ((64, 64), (0, 64, 0, 64))],  # object filling the whole (small) image
)
def test_object_centred_and_filling_the_frame(shape, box):
    rgba = np.zeros((*shape, 4), dtype=np.uint8)
    top, bottom, left, right = box
    rgba[top:bottom, left:right] = (10, 200, 30, 255)
    framed = frame_object(rgba)
    assert framed.shape == (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 4) and framed.dtype == np.uint8
    t, b, lft, r = box_of(framed[..., 3])
    longer = max(b - t, r - lft)
    assert abs(longer - FRAMING_FILL * MODEL_INPUT_SIZE) <= 1.5
    # Aspect ratio kept.
    assert abs((b - t) / (r - lft) - (bottom - top) / (right - left)) < 0.05
    # Centred: the margins on both sides differ by at most a pixel.
    assert abs(t - (MODEL_INPUT_SIZE - b)) <= 1 and abs(lft - (MODEL_INPUT_SIZE - r)) <= 1
    # Background stays transparent, the object keeps its colour.
    assert framed[0, 0, 3] == 0
    centre = framed[MODEL_INPUT_SIZE // 2, MODEL_INPUT_SIZE // 2]
    assert tuple(centre) == (10, 200, 30, 255)


def test_other_sizes_and_fill():
    framed = frame_object(disc_cutout(200, 0.2, centre=(0.3, 0.7)), size=64, fill=0.5)
    t, b, lft, r = box_of(framed[..., 3])
    assert abs(max(b - t, r - lft) - 32) <= 1.5
    assert abs((t + b) / 2 - 32) <= 1 and abs((lft + r) / 2 - 32) <= 1


def test_no_dark_fringe_from_the_discarded_background():
    """The transparent background is black in RGB; premultiplied resampling keeps it out."""
    rgba = disc_cutout(400, 0.3)
    rgba[rgba[..., 3] == 0, :3] = 0
    framed = frame_object(rgba)
    edge = (framed[..., 3] > 20) & (framed[..., 3] < 235)
    assert edge.any()
    # Every partly covered pixel keeps the object's colour (230, 120, 30), not a darker blend.
    assert framed[edge, 0].min() >= 200


def test_empty_mask_is_refused():
    with pytest.raises(ValueError):
        frame_object(np.zeros((32, 32, 4), dtype=np.uint8))


def test_to_model_input_composites_on_white():
    framed = frame_object(disc_cutout(256))
    model_input = to_model_input(framed)
    assert model_input.shape == (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 4)
    assert model_input.dtype == np.float32
    assert model_input.min() >= 0.0 and model_input.max() <= 1.0
    np.testing.assert_allclose(model_input[0, 0], [1, 1, 1, 0])  # background: white, clear
    np.testing.assert_allclose(model_input[64, 64], [230 / 255, 120 / 255, 30 / 255, 1], atol=1e-6)
    # Half-transparent pixels are blended toward white, never toward the stored RGB black.
    half = np.zeros((MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 4), dtype=np.uint8)
    half[..., 3] = 128
    blended = to_model_input(half)
    np.testing.assert_allclose(blended[5, 5, :3], 1 - 128 / 255, atol=1e-6)


def test_to_model_input_resizes():
    model_input = to_model_input(frame_object(disc_cutout(256), size=256), size=MODEL_INPUT_SIZE)
    assert model_input.shape == (MODEL_INPUT_SIZE, MODEL_INPUT_SIZE, 4)
    assert model_input[64, 64, 3] == pytest.approx(1.0)


def test_a_render_framed_like_training_keeps_its_framing():
    """A square render whose object sits as training objects do is only resized, not re-framed."""
    rgba = np.zeros((256, 256, 4), dtype=np.uint8)
    rgba[90:170, 100:150] = (10, 200, 30, 255)  # longer side 80/256 = 0.31: too small to keep
    t, b, _, _ = box_of(frame_object(rgba)[..., 3])
    assert abs((b - t) - FRAMING_FILL * MODEL_INPUT_SIZE) <= 1.5
    rgba[:] = 0
    rgba[60:196, 88:168] = (10, 200, 30, 255)  # longer side 136/256 = 0.53, centred: keep
    assert FRAMING_KEEP_FILL[0] < 136 / 256 < FRAMING_KEEP_FILL[1]
    t, b, lft, r = box_of(frame_object(rgba)[..., 3])
    assert (t, b, lft, r) == (30, 98, 44, 84)
    t, b, _, _ = box_of(frame_object(rgba, keep_if_framed=False)[..., 3])
    assert abs((b - t) - FRAMING_FILL * MODEL_INPUT_SIZE) <= 1.5


def test_a_bulky_object_filling_the_frame_is_reframed():
    """A round object filling a square photo (the example apple) is bulkier than any training
    render: its longer side alone would pass, but it is re-framed to the training fill."""
    yy, xx = np.mgrid[0:256, 0:256]
    rgba = np.zeros((256, 256, 4), dtype=np.uint8)
    rgba[(yy - 128) ** 2 + (xx - 128) ** 2 < 105**2] = (200, 30, 30, 255)  # fill 0.82
    assert FRAMING_KEEP_FILL[0] < 210 / 256 < FRAMING_KEEP_FILL[1]
    t, b, _, _ = box_of(frame_object(rgba)[..., 3])
    assert abs((b - t) - FRAMING_FILL * MODEL_INPUT_SIZE) <= 1.5
    rgba[:] = 0
    rgba[20:236, 110:146] = (200, 30, 30, 255)  # a tall thin object of the same height: kept
    t, b, _, _ = box_of(frame_object(rgba)[..., 3])
    assert (t, b) == (10, 118)
