"""Sidebar panels (View3D > Sidebar > Slice3D, and the same in the Image Editor)."""

from __future__ import annotations

import json
from typing import Any

import bpy

from ..client.views import MAX_VIEWS
from ..scene import image_source
from . import props
from .models import missing, missing_text
from .state import MANAGER, UI
from .widgets import backend_buttons, wrapped

STATE_ICONS = {"stopped": "RADIOBUT_OFF", "starting": "SORTTIME", "ready": "CHECKMARK",
               "busy": "TIME", "error": "ERROR"}


class _SidebarPanel:
    bl_region_type = "UI"
    bl_category = "Slice3D"


class _ChildPanel(_SidebarPanel):
    bl_options = {"DEFAULT_CLOSED"}


class _Main(_SidebarPanel):
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
            if opts.photos:
                layout.label(text=f"Main photo: 1 of {1 + len(opts.photos)} (More Photos below)",
                             icon="IMAGE_REFERENCE")
        _draw_run(layout, image)
        if UI.last_message:
            wrapped(layout, UI.last_message, icon="ERROR" if UI.last_error else "INFO")


def _draw_run(layout: bpy.types.UILayout, image: Any) -> None:
    """The progress of the running job and Cancel, else the Reconstruct button."""
    job = UI.job
    if job is not None and not job.finished:
        layout.progress(factor=job.progress, type="BAR", text=job.progress_text())
        layout.operator("slice3d.cancel", icon="CANCEL")
        return
    row = layout.row()
    row.scale_y = 1.5
    row.operator("slice3d.reconstruct", icon="MESH_MONKEY")
    if image is None:
        layout.label(text="Choose or open an image to reconstruct", icon="INFO")


class SLICE3D_UL_photos(bpy.types.UIList):
    """More photos of the object, numbered from 2 (the main photo is 1); poses when known."""

    def draw_item(self, context: bpy.types.Context, layout: bpy.types.UILayout, data: Any,
                  item: Any, icon: int, active_data: Any, active_propname: str,
                  index: int = 0) -> None:
        row = layout.row(align=True)
        row.label(text=f"{index + 2}")
        row.prop(item, "image", text="", icon="IMAGE_DATA" if item.image else "ERROR")
        if data.known_poses:
            row.prop(item, "azimuth", text="")
            row.prop(item, "elevation", text="")


class _Photos(_SidebarPanel):
    bl_label = "More Photos"

    def draw_header(self, context: bpy.types.Context) -> None:
        count = len(props.settings(context).photos)
        self.layout.label(text=f"({1 + count} of {MAX_VIEWS})" if count else "")

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        opts = props.settings(context)
        if not opts.photos:
            wrapped(layout, "Optional: more photos of the same object from other sides give "
                            "a better shape of what the main photo cannot see.")
        row = layout.row()
        row.template_list("SLICE3D_UL_photos", "", opts, "photos", opts, "photo_index",
                          rows=3 if opts.photos else 1)
        col = row.column(align=True)
        col.operator("slice3d.photo_add", icon="ADD", text="")
        col.operator("slice3d.photo_remove", icon="REMOVE", text="")
        if len(opts.photos) > 1:
            col.separator()
            col.operator("slice3d.photo_move", icon="TRIA_UP", text="").direction = "UP"
            col.operator("slice3d.photo_move", icon="TRIA_DOWN", text="").direction = "DOWN"
        if opts.photos:
            layout.prop(opts, "known_poses")
            if opts.known_poses:
                col = layout.column(align=True)
                col.use_property_split = True
                col.prop(opts, "main_elevation", text="Main Photo Elevation")
                if 0 <= opts.photo_index < len(opts.photos):
                    photo = opts.photos[opts.photo_index]
                    col.prop(photo, "azimuth", text=f"Photo {opts.photo_index + 2} Azimuth")
                    col.prop(photo, "elevation", text="Elevation")
        problem = image_source.photos_problem(context)
        if problem:
            wrapped(layout, problem, icon="ERROR")


class _Options(_ChildPanel):
    bl_label = "Options"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        opts = props.settings(context)
        for name in ("resolution", "face_budget", "background", "predictor", "flip_average",
                     "silhouette_fill", "texture_size", "vertex_colors"):
            layout.prop(opts, name)
        row = layout.row(heading="Slices", align=True)
        for axis in "xyz":
            row.prop(opts, f"import_{axis}", toggle=True)
        layout.prop(opts, "square_render")
        layout.prop(opts, "scene_camera")
        layout.prop(opts, "smooth_shading")
        layout.operator("slice3d.reset_options", icon="LOOP_BACK")
        layout.operator("slice3d.batch", icon="FILE_FOLDER")
        layout.operator("slice3d.import_bundle", icon="IMPORT")


class _Backend(_ChildPanel):
    bl_label = "Backend"

    def draw_header(self, context: bpy.types.Context) -> None:
        self.layout.label(icon=STATE_ICONS.get(MANAGER.status.state, "QUESTION"))

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        status = MANAGER.status
        layout.label(text=f"Status: {status.state.capitalize()}",
                     icon=STATE_ICONS.get(status.state, "QUESTION"))
        if status.message:
            wrapped(layout.column(align=True), status.message)
        if missing(status):
            remote = MANAGER.config().mode == "REMOTE"
            wrapped(layout.column(align=True), missing_text(status, remote), icon="ERROR")
        if status.state in ("ready", "busy"):
            layout.label(text=f"{status.model} on {status.device} (v{status.version})")
        backend_buttons(layout, short=True)
        timings = UI.last_timings or _collection_timings()
        if timings:
            col = layout.column(align=True)
            col.label(text="Last result (seconds):")
            for stage, secs in timings.items():
                col.label(text=f"{stage}: {float(secs):.2f}", icon="BLANK1")


def _collection_timings() -> dict[str, float]:
    coll = bpy.data.collections.get(UI.last_collection) if UI.last_collection else None
    try:
        return json.loads(coll["slice3d_timings"]) if coll is not None else {}
    except (KeyError, ValueError):
        return {}


def _panels(space: str, prefix: str) -> tuple[type, ...]:
    """The panels for one editor type."""
    main = type(f"{prefix}_PT_slice3d", (_Main, bpy.types.Panel),
                {"bl_space_type": space, "bl_idname": f"{prefix}_PT_slice3d"})
    children = tuple(
        type(f"{prefix}_PT_slice3d_{kind}", (base, bpy.types.Panel),
             {"bl_space_type": space, "bl_idname": f"{prefix}_PT_slice3d_{kind}",
              "bl_parent_id": f"{prefix}_PT_slice3d"})
        for kind, base in (("photos", _Photos), ("options", _Options), ("backend", _Backend)))
    return (main, *children)


CLASSES = (SLICE3D_UL_photos, *_panels("VIEW_3D", "VIEW3D"), *_panels("IMAGE_EDITOR", "IMAGE"))
