"""Turn the chosen image into bytes for POST /jobs (the original file bytes when possible)."""

from __future__ import annotations

import os
import struct
import zlib

import bpy

from ..client.views import MAX_VIEWS

# What the backend reads (backend/intake.py); other images go as a PNG of the pixels Blender shows.
BACKEND_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "TIFF"})
BACKEND_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff")


def editor_image(context: bpy.types.Context) -> bpy.types.Image | None:
    """The Image Editor's active image, when the context is an Image Editor."""
    space = getattr(context, "space_data", None)
    if space is not None and getattr(space, "type", "") == "IMAGE_EDITOR":
        return space.image
    return None


def chosen_image(context: bpy.types.Context) -> bpy.types.Image | None:
    """The sidebar's image, else the Image Editor's active one."""
    settings = getattr(context.scene, "slice3d", None)
    image = settings.image if settings is not None else None
    return image or editor_image(context)


def extra_photos(context: bpy.types.Context) -> list[bpy.types.Image | None]:
    """The sidebar's more photos of the object, in order (None where a slot has no image)."""
    settings = getattr(context.scene, "slice3d", None)
    return [photo.image for photo in settings.photos] if settings is not None else []


def photos_problem(context: bpy.types.Context) -> str:
    """Why the chosen photos cannot be sent, in words; "" when they can."""
    extra = extra_photos(context)
    if not extra:
        return ""
    if chosen_image(context) is None:
        return "Choose the main photo first (the image above): the others are placed from it"
    if 1 + len(extra) > MAX_VIEWS:
        return (f"At most {MAX_VIEWS} photos in all: remove {1 + len(extra) - MAX_VIEWS} from "
                "the list")
    empty = [k for k, image in enumerate(extra) if image is None]
    if empty:
        return f"Photo {empty[0] + 2} has no image: choose one or remove it from the list"
    return ""


def image_bytes(image: bpy.types.Image) -> tuple[bytes, str]:
    """(bytes, source): the file on disk or the packed file when the backend reads its format,
    else a PNG copy of the pixels (generated or edited images, BMP, Targa, OpenEXR, HDR...)."""
    if image.file_format in BACKEND_FORMATS:
        if image.packed_file is not None:
            return bytes(image.packed_file.data), image.filepath or image.name
        path = bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""
        if path and os.path.isfile(path) and not image.is_dirty:
            with open(path, "rb") as fh:
                return fh.read(), path
    if image.size[0] == 0 or image.size[1] == 0:
        raise ValueError(f'The image "{image.name}" has no pixels (file missing?)')
    return png_bytes(image), image.name


def png_bytes(image: bpy.types.Image) -> bytes:
    """Encode the image's pixels as an 8-bit RGBA PNG, alpha kept, no colour management applied
    beyond linear -> sRGB for float images (Blender's own save paths may drop alpha or apply the
    scene's view transform)."""
    import numpy as np  # only needed here; keeps add-on registration light

    width, height = image.size
    channels = image.channels
    px = np.empty(width * height * channels, dtype=np.float32)
    image.pixels.foreach_get(px)
    px = px.reshape(height, width, channels)
    if channels == 1:
        px = np.repeat(px, 3, axis=2)
    if px.shape[2] == 3:
        px = np.concatenate([px, np.ones_like(px[:, :, :1])], axis=2)
    rgba = np.clip(px[:, :, :4], 0.0, 1.0)
    if image.is_float:
        rgb = rgba[:, :, :3]
        rgba[:, :, :3] = np.where(rgb <= 0.0031308, rgb * 12.92,
                                  1.055 * np.power(rgb, 1.0 / 2.4) - 0.055)
    data = (rgba[::-1] * 255.0 + 0.5).astype(np.uint8)  # Blender's rows run bottom-up
    raw = b"".join(b"\x00" + row.tobytes() for row in data)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def file_bytes(path: str) -> bytes:
    """Read an image file given on the command line or found in a folder; one the backend does
    not read (BMP, Targa, OpenEXR...) is loaded by Blender and sent as a PNG."""
    if path.lower().endswith(BACKEND_EXTENSIONS):
        with open(path, "rb") as fh:
            return fh.read()
    image = bpy.data.images.load(path, check_existing=False)  # RuntimeError if unreadable
    try:
        if image.size[0] == 0 or image.size[1] == 0:
            raise ValueError("Blender cannot read this image")
        return png_bytes(image)
    finally:
        bpy.data.images.remove(image)
