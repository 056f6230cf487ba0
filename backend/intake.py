"""Image intake: bytes from a user or a request become an 8-bit RGBA array, or a clear error."""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, PngImagePlugin, UnidentifiedImageError

from .errors import BackendError

SUPPORTED_FORMATS = {"PNG", "JPEG", "MPO", "WEBP", "TIFF"}
MAX_PIXELS = 64_000_000
MIN_SIDE = 16
CORRUPT_MESSAGE = "The image file is truncated or corrupt and cannot be decoded."

_TRANSPOSE = {  # EXIF orientation -> the transpose that shows the picture upright
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

# Let our own limit speak first; Pillow's bomb check would otherwise raise its own message.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS * 4
# PNG text chunks (tEXt, zTXt, iTXt) are metadata we never use, but Pillow decodes them and
# refuses one over 1 MiB decompressed with an error that read as "corrupt". A valid photo may
# carry several MiB of it (XMP, editing history): allow that much, bounded, and name it if more.
MAX_TEXT_CHUNK_MB = 32
PngImagePlugin.MAX_TEXT_CHUNK = MAX_TEXT_CHUNK_MB * 1024 * 1024
PngImagePlugin.MAX_TEXT_MEMORY = 2 * PngImagePlugin.MAX_TEXT_CHUNK
TEXT_TOO_LARGE_MESSAGE = (
    f"The PNG carries more text metadata than Slice3D reads (over {MAX_TEXT_CHUNK_MB} MiB); "
    "save it again without metadata.")


@dataclass
class LoadedImage:
    """Decoded pixels plus what we learnt about the file on the way."""

    rgba: np.ndarray  # uint8 [H, W, 4]
    has_alpha: bool  # the file carried an alpha channel or a transparent palette entry
    format: str
    original_size: tuple[int, int]  # (width, height) after EXIF orientation


def load_image(data: bytes) -> LoadedImage:
    """Decode PNG/JPEG/WebP/TIFF bytes (any bit depth or colour mode) into RGBA uint8."""
    if not data:
        raise BackendError("bad_image", "The upload is empty (0 bytes); choose an image file.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError as exc:
        raise BackendError(
            "not_an_image",
            "This file is not an image Slice3D can read; use PNG, JPEG, WebP or TIFF.",
        ) from exc
    except Image.DecompressionBombError as exc:
        raise BackendError("too_large", _too_large_message(None)) from exc
    except ValueError as exc:
        raise BackendError("bad_image", _decode_failure(exc)) from exc
    except (OSError, SyntaxError, EOFError) as exc:
        # A known header followed by too few bytes: some Pillow plugins (WebP, TIFF, truncated
        # PNG chunks) already fail inside open(), before load() below would get the chance.
        raise BackendError("bad_image", CORRUPT_MESSAGE) from exc
    if img.format not in SUPPORTED_FORMATS:
        raise BackendError(
            "not_an_image",
            f"{img.format} images are not supported; use PNG, JPEG, WebP or TIFF.",
        )
    file_format = img.format  # a transposed copy no longer knows its format
    width, height = img.size
    if width * height > MAX_PIXELS:
        raise BackendError("too_large", _too_large_message((width, height)))
    if min(width, height) < MIN_SIDE:
        raise BackendError(
            "image_too_small",
            f"The image is only {width}x{height} pixels; Slice3D needs at least "
            f"{MIN_SIDE}x{MIN_SIDE} (128x128 or more gives a useful result).",
        )
    try:
        img.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise BackendError("bad_image", _decode_failure(exc)) from exc
    img = _apply_orientation(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode == "P" and "transparency" in img.info
    )
    rgba = _to_rgba8(img)
    return LoadedImage(rgba, has_alpha, file_format, (rgba.shape[1], rgba.shape[0]))


def _decode_failure(exc: Exception) -> str:
    """The message for a file Pillow could not decode: too much text metadata, or corrupt."""
    if isinstance(exc, ValueError) and "MAX_TEXT" in str(exc):
        return TEXT_TOO_LARGE_MESSAGE
    return CORRUPT_MESSAGE


def _apply_orientation(img: Image.Image) -> Image.Image:
    """Turn the pixels as the EXIF orientation says; an unreadable orientation keeps them as stored.

    Not ImageOps.exif_transpose: it also re-serialises the whole EXIF block, which raises (e.g.
    struct.error) on a broken tag that has nothing to do with orientation or the pixels.
    """
    try:
        method = _TRANSPOSE.get(img.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:  # any EXIF damage: metadata must never fail an image that decodes
        method = None
    return img if method is None else img.transpose(method)


def _too_large_message(size: tuple[int, int] | None) -> str:
    limit = f"the limit is {MAX_PIXELS // 1_000_000} megapixels"
    if size is None:
        return f"The image is far too large to decode safely; {limit}."
    w, h = size
    return f"The image is {w}x{h} ({w * h / 1e6:.0f} megapixels); {limit}. Scale it down first."


def _check_finite(arr: np.ndarray) -> None:
    """A float image with inf or NaN pixels cannot be scaled: one inf turned the rest black."""
    bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
    if bad:
        raise BackendError(
            "bad_image",
            f"The image has {bad} pixel{'s' if bad > 1 else ''} that {'are' if bad > 1 else 'is'} "
            "not a finite number (inf or NaN, in a floating-point TIFF), so its brightness "
            "cannot be scaled; replace them with finite values or save it as 8 or 16 bits.",
        )


def _to_rgba8(img: Image.Image) -> np.ndarray:
    """Any Pillow mode to RGBA uint8, scaling high bit depths rather than clipping them."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        _check_finite(arr)
        if img.mode == "F":
            top = 1.0 if arr.max() <= 1.0 else max(arr.max(), 1e-9)
        elif img.mode.startswith("I;16"):
            top = 65535.0  # 16-bit by definition, however dark this image happens to be
        else:
            top = 65535.0 if arr.max() > 255 else 255.0
        grey = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        alpha = np.full_like(grey, 255)
        return np.stack([grey, grey, grey, alpha], axis=-1)
    if img.mode == "CMYK":
        img = img.convert("RGB")
    if img.mode in ("RGBa", "La"):
        img = img.convert(img.mode.upper())
    return np.ascontiguousarray(np.asarray(img.convert("RGBA"), dtype=np.uint8))


def read_image_file(path: Path, limit_bytes: int) -> bytes:
    """A file's bytes, for regular files of at most limit_bytes only, checked before reading.

    Opened without blocking, so a FIFO named x.png is refused at once rather than waited on;
    a device (``/dev/zero`` behind a link) or a folder is refused by its type, a huge file by
    its size, all before a byte is read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise BackendError("bad_image", f"cannot read the file ({exc.strerror})") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BackendError("bad_image", f"not a regular file ({_file_kind(info.st_mode)}); "
                           "give an image file")
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > limit_bytes:
            raise BackendError("too_large", f"the file is {info.st_size / 2**20:.0f} MiB; the "
                               f"limit is {limit_bytes // 2**20} MiB")
        try:
            data = fh.read(limit_bytes + 1)
        except OSError as exc:
            raise BackendError("bad_image", f"cannot read the file ({exc.strerror})") from exc
    if len(data) > limit_bytes:  # it grew while we read it
        raise BackendError("too_large", f"the file is over the {limit_bytes // 2**20} MiB limit")
    return data


def _file_kind(mode: int) -> str:
    kinds = {stat.S_ISDIR: "a folder", stat.S_ISFIFO: "a FIFO (named pipe)",
             stat.S_ISCHR: "a character device", stat.S_ISBLK: "a block device",
             stat.S_ISSOCK: "a socket"}
    return next((name for test, name in kinds.items() if test(mode)), "not a plain file")
