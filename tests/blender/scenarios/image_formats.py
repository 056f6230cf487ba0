"""Scenario: images in formats Blender shows but the backend does not read (BMP, Targa, OpenEXR,
Radiance HDR) are sent as a PNG of their pixels, from the sidebar and from a batch folder."""

import os
import sys
import tempfile

import bpy
import numpy as np
from _support import ARGS, disable, done, enable, run

sys.path.insert(0, ARGS["root"])
from backend.errors import BackendError  # noqa: E402 - the backend's own reader is the judge
from backend.intake import load_image  # noqa: E402

FORMATS = {"bmp": "BMP", "tga": "TARGA", "exr": "OPEN_EXR", "hdr": "HDR"}
SIZE = 64


def write_images(folder: str) -> dict[str, str]:
    """A red block in the top left corner on grey, saved by Blender in each format."""
    px = np.full((SIZE, SIZE, 4), (0.3, 0.3, 0.3, 1.0), np.float32)
    px[SIZE - 24:, :24] = (0.8, 0.05, 0.05, 1.0)  # Blender's rows run bottom-up
    paths = {}
    for ext, file_format in FORMATS.items():
        image = bpy.data.images.new("square", SIZE, SIZE, alpha=True, float_buffer=True)
        image.pixels.foreach_set(px.ravel())
        image.filepath_raw = paths[ext] = os.path.join(folder, f"square.{ext}")
        image.file_format = file_format
        image.save()
        bpy.data.images.remove(image)
    return paths


def verdict(data: bytes) -> list:
    """What the backend makes of the bytes: [format, size, top left pixel red] or the error."""
    try:
        loaded = load_image(data)
    except BackendError as exc:
        return [f"rejected: {exc}"]
    r, g, b = (int(v) for v in loaded.rgba[4, 4, :3])  # (Blender's float saves differ in tone)
    return [loaded.format, list(loaded.original_size), r - max(g, b) > 60]


def main() -> None:
    ext = enable()
    src, batch = ext.scene.image_source, ext.scene.batch
    options = ext.client.remote_job.JobOptions()

    def start_job(data, name):
        return ext.ui.state.start_job(data, name, options)

    folder = tempfile.mkdtemp()
    paths = write_images(folder)
    sidebar, batch_items = {}, {}
    for name, path in paths.items():
        data, source = src.image_bytes(bpy.data.images.load(path))
        sidebar[name] = verdict(data) + [source]
    images_before = len(bpy.data.images)
    for name, path in paths.items():
        job = batch.start_item(path, start_job)
        batch_items[name] = verdict(job.image) if not isinstance(job, str) else [job]
    junk = os.path.join(folder, "junk.tga")
    with open(junk, "wb") as fh:
        fh.write(b"not a picture at all")
    junk_item = batch.start_item(junk, start_job)
    temp_images_left = len(bpy.data.images) - images_before
    disable()
    done(sidebar=sidebar, batch=batch_items, junk=junk_item if isinstance(junk_item, str) else "",
         temp_images_left=temp_images_left)


run(main)
