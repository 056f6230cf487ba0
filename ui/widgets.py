"""Small drawing helpers the panels and the preferences share."""

from __future__ import annotations

import bpy

BACKEND_BUTTONS = (("slice3d.backend_start", "Start", "PLAY"),
                   ("slice3d.backend_restart", "Restart", "FILE_REFRESH"),
                   ("slice3d.backend_stop", "Stop", "PAUSE"))


def backend_buttons(layout: bpy.types.UILayout, short: bool = False) -> None:
    """Start / Restart / Stop in one row (the sidebar's Backend panel uses short labels)."""
    row = layout.row(align=True)
    for idname, label, icon in BACKEND_BUTTONS:
        if short:
            row.operator(idname, text=label, icon=icon)
        else:
            row.operator(idname, icon=icon)


def wrapped(layout: bpy.types.UILayout, text: str, icon: str = "NONE", width: int = 48) -> None:
    """Labels cannot wrap; split long messages over several lines."""
    words, line, first = text.replace("\n", " ").split(), "", True
    for word in words:
        if len(line) + len(word) + 1 > width and line:
            layout.label(text=line, icon=icon if first else "BLANK1")
            line, first = "", False
        line = f"{line} {word}".strip()
    if line:
        layout.label(text=line, icon=icon if first else "BLANK1")


def tag_redraw(context: bpy.types.Context, area_types: tuple[str, ...] = (
        "VIEW_3D", "IMAGE_EDITOR")) -> None:
    """Redraw the editors that show progress (the sidebars by default)."""
    wm = context.window_manager
    for window in wm.windows if wm else ():
        for area in window.screen.areas:
            if area.type in area_types:
                area.tag_redraw()
