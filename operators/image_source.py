"""Turn the chosen image into bytes for POST /jobs (the original file bytes when possible)."""

from __future__ import annotations

import os
import uuid

import bpy

from . import paths


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


def image_bytes(image: bpy.types.Image) -> tuple[bytes, str]:
    """(bytes, source): the file on disk, the packed file, or a PNG copy of generated pixels."""
    if image.packed_file is not None:
        return bytes(image.packed_file.data), image.filepath or image.name
    path = bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""
    if path and os.path.isfile(path) and not image.is_dirty:
        with open(path, "rb") as fh:
            return fh.read(), path
    if image.size[0] == 0 or image.size[1] == 0:
        raise ValueError(f'The image "{image.name}" has no pixels (file missing?)')
    tmp = os.path.join(paths.user_dir("tmp"), f"{uuid.uuid4().hex}.png")
    copy = image.copy()
    try:
        copy.filepath_raw = tmp
        copy.file_format = "PNG"
        copy.save()
        with open(tmp, "rb") as fh:
            return fh.read(), image.name
    finally:
        bpy.data.images.remove(copy)
        if os.path.exists(tmp):
            os.remove(tmp)


def file_bytes(path: str) -> bytes:
    """Read an image file given on the command line or chosen in a file browser."""
    with open(path, "rb") as fh:
        return fh.read()
