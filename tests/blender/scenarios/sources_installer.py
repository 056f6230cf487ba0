"""Scenario: image sources (file, packed, generated pixels) and the installer operator's poll."""


import bpy
import numpy as np
from _support import EXAMPLE, disable, done, enable, run


def disc_image():
    """A generated (never saved) RGBA image: an orange disc on a transparent background."""
    size = 96
    img = bpy.data.images.new("Generated Disc", size, size, alpha=True)
    yy, xx = np.mgrid[0:size, 0:size]
    inside = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) < (size * 0.35) ** 2
    px = np.zeros((size, size, 4), dtype=np.float32)
    px[inside] = (0.9, 0.5, 0.2, 1.0)
    img.pixels.foreach_set(px.ravel())
    return img


def main() -> None:
    ext = enable()
    src = ext.scene.image_source
    with open(EXAMPLE, "rb") as fh:
        original = fh.read()
    on_disk = bpy.data.images.load(EXAMPLE)
    data, source = src.image_bytes(on_disk)
    out = {"file_same": data == original, "file_source": source}
    packed = bpy.data.images.load(EXAMPLE, check_existing=False)
    packed.pack()
    out["packed_same"] = src.image_bytes(packed)[0] == original
    disc = disc_image()
    images_before = len(bpy.data.images)
    data, source = src.image_bytes(disc)
    out["generated_png"] = data[:8] == b"\x89PNG\r\n\x1a\n"
    out["generated_source"] = source
    out["temp_images_left"] = len(bpy.data.images) - images_before  # no temporary copies
    opts = bpy.context.scene.slice3d
    # Every default of the sidebar and of the preferences is the contract's.
    names = ("resolution", "face_budget", "background", "flip_average", "silhouette_fill")
    prefs = ext.ui.settings.addon_prefs()
    out["sidebar_defaults"] = {n: opts.bl_rna.properties[n].default for n in names}
    out["prefs_defaults"] = {n: getattr(prefs, f"default_{n}") for n in names}
    out["contract_defaults"] = {n: ext.client.contract.DEFAULTS[n] for n in names}
    opts.image, opts.resolution, opts.background = disc, "64", "alpha"
    out["flip_default"] = opts.flip_average
    opts.flip_average = "off"  # the sidebar's Mirror Average reaches the request
    out["fill_default"] = opts.silhouette_fill
    opts.silhouette_fill = "off"  # and so does its Fill Silhouette
    query = ext.ui.props.job_options(opts).query("disc")
    out["flip_query"], out["fill_query"] = query["flip_average"], query["silhouette_fill"]
    out["disc"] = sorted(bpy.ops.slice3d.reconstruct())
    disc_coll = bpy.data.collections.get("Slice3D Generated Disc")
    out["disc_dims"] = list(next(o for o in disc_coll.objects if o.type == "MESH").dimensions)
    # Reset to Defaults takes the Mirror Average from the add-on preferences like the rest.
    out["has_prefs"] = prefs is not None
    if prefs is not None:
        prefs.default_flip_average = "on"
        prefs.default_silhouette_fill = "off"
        opts.silhouette_fill = "auto"
    bpy.ops.slice3d.reset_options()
    out["flip_after_reset"] = opts.flip_average
    out["fill_after_reset"] = opts.silhouette_fill

    # The installer: offline by default here, so the operator explains why it is disabled.
    out["online"] = bpy.app.online_access
    out["install_poll"] = bpy.ops.slice3d.install_backend.poll()
    disable()
    done(**out)


run(main)
