"""backend.intake.load_image: every format, depth and mode the issue names, and every bad file."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from backend_test_support import APPLE, encode, huge_png, truncated_png
from PIL import Image

from backend.errors import BackendError
from backend.intake import MAX_PIXELS, MIN_SIDE, load_image

RED, BLUE = (255, 0, 0), (0, 0, 255)


def two_halves(h: int = 40, w: int = 60) -> np.ndarray:
    """RGB: left half red, right half blue, so flips and rotations are easy to see."""
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    rgb[:, : w // 2] = RED
    rgb[:, w // 2 :] = BLUE
    return rgb


def half_transparent(h: int = 40, w: int = 60) -> np.ndarray:
    """RGBA: green everywhere, the top half opaque and the bottom half fully transparent."""
    rgba = np.zeros((h, w, 4), dtype=np.uint8)
    rgba[..., 1] = 255
    rgba[: h // 2, :, 3] = 255
    return rgba


def png16(arr: np.ndarray, colour_type: int) -> bytes:
    """A 16-bit-per-sample PNG written by hand (Pillow cannot save 16-bit RGB or RGBA)."""
    h, w = arr.shape[:2]
    raw = b"".join(b"\x00" + arr[i].astype(">u2").tobytes() for i in range(h))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def error_of(data: bytes) -> BackendError:
    with pytest.raises(BackendError) as info:
        load_image(data)
    return info.value


# -- formats and modes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "kwargs", "tolerance"),
    [("PNG", {}, 0), ("TIFF", {}, 0), ("WEBP", {"lossless": True}, 0),
     ("WEBP", {"quality": 90}, 40), ("JPEG", {"quality": 95}, 40)],
)
def test_rgb_formats_decode_to_opaque_rgba8(fmt, kwargs, tolerance):
    rgb = two_halves()
    loaded = load_image(encode(Image.fromarray(rgb), fmt, **kwargs))
    assert loaded.format == fmt
    assert loaded.rgba.dtype == np.uint8 and loaded.rgba.shape == (40, 60, 4)
    assert loaded.original_size == (60, 40)
    assert not loaded.has_alpha
    assert (loaded.rgba[..., 3] == 255).all()
    # Away from the red/blue edge the colours survive (lossy formats within a tolerance).
    diff = np.abs(loaded.rgba[:, 5:25, :3].astype(int) - RED).max()
    assert diff <= tolerance
    assert np.abs(loaded.rgba[:, 35:55, :3].astype(int) - BLUE).max() <= tolerance


@pytest.mark.parametrize(("fmt", "kwargs"),
                         [("PNG", {}), ("TIFF", {}), ("WEBP", {"lossless": True})])
def test_alpha_is_kept(fmt, kwargs):
    loaded = load_image(encode(Image.fromarray(half_transparent(), "RGBA"), fmt, **kwargs))
    assert loaded.has_alpha
    assert (loaded.rgba[:20, :, 3] == 255).all() and (loaded.rgba[20:, :, 3] == 0).all()
    assert (loaded.rgba[:20, :, 1] == 255).all()


def test_grey_8bit():
    grey = np.tile(np.arange(0, 240, 4, dtype=np.uint8), (20, 1))
    loaded = load_image(encode(Image.fromarray(grey, "L"), "PNG"))
    assert not loaded.has_alpha
    for c in range(3):
        np.testing.assert_array_equal(loaded.rgba[..., c], grey)


def test_grey_with_alpha():
    la = np.zeros((20, 30, 2), dtype=np.uint8)
    la[..., 0] = 90
    la[:10, :, 1] = 255
    loaded = load_image(encode(Image.fromarray(la, "LA"), "PNG"))
    assert loaded.has_alpha
    assert (loaded.rgba[:10, :, :3] == 90).all()
    assert (loaded.rgba[:10, :, 3] == 255).all() and (loaded.rgba[10:, :, 3] == 0).all()


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_grey_16bit_scales_to_8bit(fmt):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (20, 1))
    loaded = load_image(encode(Image.fromarray(ramp), fmt))
    expected = np.round(ramp / 65535 * 255).astype(int)
    assert np.abs(loaded.rgba[..., 0].astype(int) - expected).max() <= 1
    assert loaded.rgba[0, 0, 0] == 0 and loaded.rgba[0, -1, 0] == 255


def test_dark_16bit_grey_stays_dark():
    """A 16-bit image is 16-bit however dark: 200/65535 is black, not 200/255."""
    loaded = load_image(png16(np.full((20, 30), 200, dtype=np.uint16), colour_type=0))
    assert loaded.rgba[..., 0].max() <= 1


def test_rgb_and_rgba_16bit():
    rgb16 = np.zeros((20, 30, 3), dtype=np.uint16)
    rgb16[..., 0], rgb16[..., 2] = 65535, 32768
    loaded = load_image(png16(rgb16, colour_type=2))
    assert not loaded.has_alpha
    assert tuple(loaded.rgba[5, 5]) == (255, 0, 128, 255)

    rgba16 = np.zeros((20, 30, 4), dtype=np.uint16)
    rgba16[..., 1] = 65535
    rgba16[:10, :, 3] = 65535
    loaded = load_image(png16(rgba16, colour_type=6))
    assert loaded.has_alpha
    assert tuple(loaded.rgba[0, 0]) == (0, 255, 0, 255)
    assert loaded.rgba[-1, 0, 3] == 0


@pytest.mark.parametrize("channels", [3, 4])
def test_rgb_and_rgba_16bit_tiff(channels):
    """Pillow cannot write these; tifffile (scikit-image's TIFF library) can."""
    tifffile = pytest.importorskip("tifffile")
    arr = np.zeros((20, 30, channels), dtype=np.uint16)
    arr[..., 0], arr[..., 2] = 65535, 32768
    extra = {}
    if channels == 4:
        arr[:10, :, 3] = 65535
        extra = {"extrasamples": ["unassalpha"]}
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, photometric="rgb", **extra)
    loaded = load_image(buf.getvalue())
    assert loaded.format == "TIFF" and loaded.has_alpha == (channels == 4)
    assert tuple(loaded.rgba[0, 0]) == (255, 0, 128, 255)
    if channels == 4:
        assert loaded.rgba[-1, 0, 3] == 0


def test_float_tiff():
    ramp = np.tile(np.linspace(0, 1, 50, dtype=np.float32), (20, 1))
    loaded = load_image(encode(Image.fromarray(ramp, "F"), "TIFF"))
    assert loaded.rgba[0, 0, 0] == 0 and loaded.rgba[0, -1, 0] == 255


def test_palette_without_transparency():
    pal = Image.fromarray(two_halves()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    loaded = load_image(encode(pal, "PNG"))
    assert not loaded.has_alpha
    assert (loaded.rgba[..., 3] == 255).all()
    assert tuple(loaded.rgba[10, 5, :3]) == RED and tuple(loaded.rgba[10, 55, :3]) == BLUE


def test_palette_with_transparency():
    pal = Image.fromarray(two_halves()).convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    blue_index = pal.getpixel((55, 10))
    loaded = load_image(encode(pal, "PNG", transparency=blue_index))
    assert loaded.has_alpha
    assert (loaded.rgba[:, :30, 3] == 255).all() and (loaded.rgba[:, 30:, 3] == 0).all()


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk(fmt):
    cmyk = Image.fromarray(two_halves()).convert("CMYK")
    loaded = load_image(encode(cmyk, fmt, **({"quality": 95} if fmt == "JPEG" else {})))
    assert loaded.rgba.shape == (40, 60, 4)
    assert np.abs(loaded.rgba[:, 5:25, :3].astype(int) - RED).max() <= 40
    assert np.abs(loaded.rgba[:, 35:55, :3].astype(int) - BLUE).max() <= 40


def test_example_photo():
    loaded = load_image(APPLE.read_bytes())
    assert loaded.format == "JPEG" and loaded.rgba.ndim == 3 and loaded.rgba.shape[2] == 4
    assert min(loaded.original_size) >= 128


# -- EXIF orientation ----------------------------------------------------------------------------


@pytest.mark.parametrize(("orientation", "top", "bottom"), [(6, RED, BLUE), (8, BLUE, RED)])
def test_exif_orientation_is_honoured(orientation, top, bottom):
    """Stored 40 high x 60 wide, red left and blue right; 6 = rotate 90 CW, 8 = 90 CCW."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(Image.fromarray(two_halves()), "JPEG", exif=exif.tobytes(), quality=95)
    loaded = load_image(data)
    assert loaded.rgba.shape == (60, 40, 4)
    assert loaded.original_size == (40, 60)
    assert np.abs(loaded.rgba[5:25, :, :3].astype(int) - top).max() <= 40
    assert np.abs(loaded.rgba[35:55, :, :3].astype(int) - bottom).max() <= 40


@pytest.mark.parametrize(("fmt", "kwargs"), [("PNG", {}), ("WEBP", {"lossless": True}),
                                             ("TIFF", {})])
def test_exif_orientation_in_other_formats(fmt, kwargs):
    exif = Image.Exif()
    exif[0x0112] = 6
    exif_arg = exif if fmt == "TIFF" else exif.tobytes()
    loaded = load_image(encode(Image.fromarray(two_halves()), fmt, exif=exif_arg, **kwargs))
    assert loaded.rgba.shape == (60, 40, 4) and loaded.format == fmt
    assert tuple(loaded.rgba[0, 0, :3]) == RED and tuple(loaded.rgba[-1, 0, :3]) == BLUE


def test_exif_mirror_orientation():
    exif = Image.Exif()
    exif[0x0112] = 2  # mirrored left-right
    loaded = load_image(encode(Image.fromarray(two_halves()), "JPEG", exif=exif.tobytes()))
    assert loaded.rgba.shape == (40, 60, 4)
    assert np.abs(loaded.rgba[:, 5:25, :3].astype(int) - BLUE).max() <= 40


def test_broken_exif_tag_keeps_the_orientation():
    """A camera's Make tag retagged as PlanarConfiguration (a number) but still holding text, as
    in a real broken file: Pillow's exif_transpose raised struct.error re-writing the EXIF (a 500
    on POST /jobs). The orientation itself is fine and is still honoured."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "Maker"  # Make, ASCII; big-endian entry: tag 010F, type 0002
    clean = encode(Image.fromarray(two_halves()), "JPEG", exif=exif.tobytes(), quality=95)
    broken = clean.replace(b"\x01\x0f\x00\x02", b"\x01\x1c\x00\x02", 1)  # tag 011C
    assert broken != clean
    loaded = load_image(broken)
    assert loaded.rgba.shape == (60, 40, 4)
    assert np.abs(loaded.rgba[5:25, :, :3].astype(int) - RED).max() <= 40


@pytest.mark.parametrize(("fmt", "kwargs"), [("PNG", {}), ("WEBP", {"lossless": True})])
def test_unreadable_exif_keeps_the_image_as_stored(fmt, kwargs):
    """EXIF that is not TIFF at all: no orientation to honour, and no reason to refuse pixels
    that decode (it used to be 'truncated or corrupt')."""
    data = encode(Image.fromarray(two_halves()), fmt, exif=b"Exif\x00\x00not a TIFF header",
                  **kwargs)
    loaded = load_image(data)
    assert loaded.rgba.shape == (40, 60, 4) and loaded.format == fmt
    assert tuple(loaded.rgba[0, 0, :3]) == RED and tuple(loaded.rgba[0, -1, :3]) == BLUE


# -- bad files -----------------------------------------------------------------------------------


def test_zero_bytes():
    err = error_of(b"")
    assert err.code == "bad_image" and err.http_status == 400
    assert "empty" in err.message


@pytest.mark.parametrize("data", [b"hello, this is not an image", b"%PDF-1.4\n" + bytes(200),
                                  bytes(range(256)) * 4])
def test_not_an_image(data):
    err = error_of(data)
    assert err.code == "not_an_image" and err.http_status == 415
    assert "PNG" in err.message


def test_unsupported_format_named():
    err = error_of(encode(Image.fromarray(two_halves()), "GIF"))
    assert err.code == "not_an_image" and "GIF" in err.message


def test_truncated_png():
    err = error_of(truncated_png())
    assert err.code == "bad_image" and "truncated" in err.message


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow complains about cut-off EXIF
@pytest.mark.parametrize(("fmt", "kwargs"), [("PNG", {}), ("JPEG", {}), ("WEBP", {}),
                                             ("WEBP", {"lossless": True}), ("TIFF", {})])
def test_every_truncation_is_a_clear_error(fmt, kwargs):
    """Cut a file at many lengths: each either decodes or raises BackendError, nothing else.

    (WebP and TIFF fail inside Image.open, which once escaped as a bare OSError/ValueError.)
    """
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
    data = encode(Image.fromarray(rgb), fmt, **kwargs)
    codes = set()
    for cut in range(1, len(data), max(1, len(data) // 120)):
        try:
            load_image(data[:cut])
        except BackendError as exc:
            codes.add(exc.code)
            assert exc.code in ("bad_image", "not_an_image", "image_too_small"), exc.code
    assert "bad_image" in codes


def test_one_pixel_image():
    err = error_of(encode(Image.new("RGB", (1, 1), "red"), "PNG"))
    assert err.code == "image_too_small" and err.http_status == 400
    assert "1x1" in err.message


def test_smallest_accepted_side():
    assert load_image(encode(Image.new("RGB", (MIN_SIDE, MIN_SIDE)), "PNG")).rgba.shape[0] == 16
    assert error_of(encode(Image.new("RGB", (MIN_SIDE - 1, 400)), "PNG")).code == (
        "image_too_small")


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares its size and has no pixel data at all."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_huge_image_refused():
    data = huge_png(9000)
    assert len(data) < 100_000  # cheap to make and to send
    err = error_of(data)
    assert err.code == "too_large" and err.http_status == 413
    assert "9000x9000" in err.message and "64 megapixels" in err.message


def test_huge_image_refused_before_decoding():
    """No pixel data at all: decoding would say 'truncated', so too_large proves it never tried."""
    assert error_of(png_header_only(9000, 9000)).code == "too_large"
    assert error_of(png_header_only(400, 300)).code == "bad_image"  # the same file, small


def test_just_over_the_pixel_limit():
    side = int(MAX_PIXELS**0.5) + 1
    assert error_of(png_header_only(side, side)).code == "too_large"
    assert error_of(png_header_only(MAX_PIXELS // 1000, 1000)).code == "bad_image"  # at the limit


def test_decompression_bomb_beyond_pillows_own_limit():
    """Far beyond the limit Pillow raises its own bomb error in open(); it must read the same."""
    err = error_of(png_header_only(24000, 24000))
    assert err.code == "too_large" and "64 megapixels" in err.message
