"""Scenario: the sidebar's list of more photos, without a backend: add (with the limit), reorder,
remove, known poses, and the messages for too many photos, an empty slot or a missing file.
ARGS: photos (image files to add), gone (an image file that is deleted once loaded)."""

import math
import os
import sys
from types import SimpleNamespace

import bpy
from _support import ADDON, ARGS, EXAMPLE, disable, done, enable, run


class RecordingLayout:
    """Stands in for a UILayout (none exists without a window): records the labels drawn."""

    def __init__(self, labels: list) -> None:
        self.labels = labels
        self.use_property_split = False

    def label(self, text: str = "", **_kwargs) -> None:
        self.labels.append(text)

    def _child(self, *_args, **_kwargs) -> "RecordingLayout":
        return RecordingLayout(self.labels)

    row = column = box = _child

    def operator(self, *_args, **_kwargs) -> SimpleNamespace:
        return SimpleNamespace()

    def prop(self, data, name: str, **_kwargs) -> None:
        if name not in data.bl_rna.properties:
            self.labels.append(f"NO PROPERTY {name}")

    def template_list(self, list_type, _list_id, data, name, active_data, active_name,
                      **_kwargs) -> None:
        self.prop(data, name)
        self.prop(active_data, active_name)
        for index, item in enumerate(getattr(data, name)):  # the list's rows, as Blender would
            getattr(bpy.types, list_type).draw_item(
                None, bpy.context, self, data, item, 0, active_data, active_name, index)

    def separator(self, **_kwargs) -> None:
        pass


def panel_labels(ext) -> list:
    labels: list = []
    panel = SimpleNamespace(layout=RecordingLayout(labels))
    panel_cls = next(c for c in ext.ui.sidebar.CLASSES if c.__name__ == "VIEW3D_PT_slice3d_photos")
    panel_cls.draw(panel, bpy.context)
    return labels


def attempt(op, **kwargs) -> str:
    try:
        return "+".join(sorted(op(**kwargs)))
    except RuntimeError as exc:
        return f"ERROR {exc}"


def names(opts) -> list:
    return [p.image.name if p.image else None for p in opts.photos]


def main() -> None:
    ext = enable()
    opts = bpy.context.scene.slice3d
    out = {"empty_panel": panel_labels(ext)}
    opts.image = bpy.data.images.load(EXAMPLE)
    folder = os.path.dirname(ARGS["photos"][0])
    files = [{"name": os.path.basename(p)} for p in ARGS["photos"]]
    out["add"] = attempt(bpy.ops.slice3d.photo_add, directory=folder, files=files[:2])
    out["after_add"] = names(opts)
    out["add_too_many"] = attempt(bpy.ops.slice3d.photo_add, directory=folder, files=files)
    out["after_too_many"] = len(opts.photos)
    out["add_poll_full"] = bpy.ops.slice3d.photo_add.poll()
    opts.photos.add().image = opts.image  # a script can go past the limit: Reconstruct refuses
    out["reconstruct_poll_seven"] = bpy.ops.slice3d.reconstruct.poll()
    out["reconstruct_seven"] = attempt(bpy.ops.slice3d.reconstruct)
    out["panel_seven"] = panel_labels(ext)
    opts.photo_index = len(opts.photos) - 1
    for _ in range(4):
        bpy.ops.slice3d.photo_remove()
    out["after_remove"] = names(opts)
    opts.photo_index = 1
    out["move_up"] = attempt(bpy.ops.slice3d.photo_move, direction="UP")
    out["after_move"] = names(opts)
    out["index_after_move"] = opts.photo_index
    out["move_past_top"] = attempt(bpy.ops.slice3d.photo_move, direction="UP")
    opts.photos.add()  # an empty slot
    out["reconstruct_poll_empty"] = bpy.ops.slice3d.reconstruct.poll()
    out["reconstruct_empty"] = attempt(bpy.ops.slice3d.reconstruct)
    opts.photos.remove(len(opts.photos) - 1)
    gone = bpy.data.images.load(ARGS["gone"])
    os.remove(ARGS["gone"])
    opts.photos.add().image = gone
    out["reconstruct_missing"] = attempt(bpy.ops.slice3d.reconstruct)
    out["job_started"] = sys.modules[ADDON].ui.state.UI.job is not None
    out["add_missing"] = attempt(bpy.ops.slice3d.photo_add,
                                 filepath=os.path.join(folder, "never.jpg"))
    opts.known_poses = True
    opts.main_elevation = math.radians(20.0)
    for k, photo in enumerate(opts.photos):
        photo.azimuth, photo.elevation = math.radians(90.0 * (k + 1)), math.radians(10.0 * k)
    poses = ext.ui.props.poses(opts)
    out["poses"] = [list(poses.azimuths), list(poses.elevations)]
    opts.known_poses = False
    out["poses_off"] = [ext.ui.props.poses(opts).azimuths, ext.ui.props.poses(opts).elevations]
    out["panel_ok"] = panel_labels(ext)
    opts.known_poses = True
    out["panel_poses"] = panel_labels(ext)
    disable()
    done(**out)


run(main)
