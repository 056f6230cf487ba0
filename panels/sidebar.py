"""Sidebar panels (View3D > Sidebar > Slice3D, and the same in the Image Editor)."""

from __future__ import annotations

import json

import bpy

from ..operators import image_source, props
from ..operators.jobs import UI
from ..operators.process import MANAGER

STATE_ICONS = {"stopped": "RADIOBUT_OFF", "starting": "SORTTIME", "ready": "CHECKMARK",
               "busy": "TIME", "error": "ERROR"}


def _wrapped(layout: bpy.types.UILayout, text: str, icon: str = "NONE", width: int = 48) -> None:
    """Labels cannot wrap; split long messages over several lines."""
    words, line, first = text.replace("\n", " ").split(), "", True
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            layout.label(text=line, icon=icon if first else "BLANK1")
            line, first = "", False
        line = f"{line} {word}".strip()
    if line:
        layout.label(text=line, icon=icon if first else "BLANK1")


class _Main:
    bl_region_type = "UI"
    bl_category = "Slice3D"
    bl_label = "Slice3D"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        opts = props.settings(context)
        layout.template_ID(opts, "image", open="image.open")
        if context.space_data.type == "IMAGE_EDITOR":
            layout.operator("slice3d.use_editor_image", icon="IMAGE_DATA")
        image = image_source.chosen_image(context)
        if image is not None:
            image.preview_ensure()
            layout.template_icon(icon_value=image.preview.icon_id, scale=7.0)
            if opts.image is None:
                layout.label(text=f"Using the editor's image: {image.name}", icon="INFO")
        job = UI.job
        if job is not None and not job.finished:
            layout.progress(factor=job.progress, type="BAR", text=job.stage)
            layout.operator("slice3d.cancel", icon="CANCEL")
        else:
            row = layout.row()
            row.scale_y = 1.5
            row.operator("slice3d.reconstruct", icon="MESH_MONKEY")
            if image is None:
                layout.label(text="Choose or open an image to reconstruct", icon="INFO")
        if UI.last_message:
            _wrapped(layout, UI.last_message,
                     icon="ERROR" if "failed" in UI.last_message else "INFO")


class _Options:
    bl_region_type = "UI"
    bl_category = "Slice3D"
    bl_label = "Options"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        opts = props.settings(context)
        layout.prop(opts, "resolution")
        layout.prop(opts, "face_budget")
        layout.prop(opts, "background")
        layout.prop(opts, "predictor")
        layout.prop(opts, "flip_average")
        layout.prop(opts, "silhouette_fill")
        row = layout.row(heading="Slices", align=True)
        row.prop(opts, "import_x", toggle=True)
        row.prop(opts, "import_y", toggle=True)
        row.prop(opts, "import_z", toggle=True)
        layout.prop(opts, "square_render")
        layout.operator("slice3d.reset_options", icon="LOOP_BACK")
        layout.operator("slice3d.batch", icon="FILE_FOLDER")
        layout.operator("slice3d.import_bundle", icon="IMPORT")


class _Backend:
    bl_region_type = "UI"
    bl_category = "Slice3D"
    bl_label = "Backend"
    bl_options = {"DEFAULT_CLOSED"}

    def draw_header(self, context: bpy.types.Context) -> None:
        self.layout.label(icon=STATE_ICONS.get(MANAGER.status.state, "QUESTION"))

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        status = MANAGER.status
        layout.label(text=f"Status: {status.state.capitalize()}",
                     icon=STATE_ICONS.get(status.state, "QUESTION"))
        if status.message:
            _wrapped(layout.column(align=True), status.message)
        if status.state in ("ready", "busy"):
            layout.label(text=f"{status.model} on {status.device} (v{status.version})")
        row = layout.row(align=True)
        row.operator("slice3d.backend_start", text="Start", icon="PLAY")
        row.operator("slice3d.backend_restart", text="Restart", icon="FILE_REFRESH")
        row.operator("slice3d.backend_stop", text="Stop", icon="PAUSE")
        timings = UI.last_timings or _collection_timings(context)
        if timings:
            col = layout.column(align=True)
            col.label(text="Last result (seconds):")
            for stage, secs in timings.items():
                col.label(text=f"{stage}: {float(secs):.2f}", icon="BLANK1")


def _collection_timings(context: bpy.types.Context) -> dict:
    coll = bpy.data.collections.get(UI.last_collection) if UI.last_collection else None
    try:
        return json.loads(coll["slice3d_timings"]) if coll is not None else {}
    except (KeyError, ValueError):
        return {}


def _panels(space: str, prefix: str) -> tuple[type, ...]:
    """The three panels for one editor type."""
    main = type(f"{prefix}_PT_slice3d", (_Main, bpy.types.Panel),
                {"bl_space_type": space, "bl_idname": f"{prefix}_PT_slice3d"})
    options = type(f"{prefix}_PT_slice3d_options", (_Options, bpy.types.Panel),
                   {"bl_space_type": space, "bl_idname": f"{prefix}_PT_slice3d_options",
                    "bl_parent_id": f"{prefix}_PT_slice3d"})
    backend = type(f"{prefix}_PT_slice3d_backend", (_Backend, bpy.types.Panel),
                   {"bl_space_type": space, "bl_idname": f"{prefix}_PT_slice3d_backend",
                    "bl_parent_id": f"{prefix}_PT_slice3d"})
    return main, options, backend


CLASSES = (*_panels("VIEW_3D", "VIEW3D"), *_panels("IMAGE_EDITOR", "IMAGE"))
