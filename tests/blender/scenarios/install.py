"""Scenario: install the built zip into this (isolated) user profile, as Blender's UI does."""

import bpy
from _support import ADDON, ARGS, disable, done, run


def main() -> None:
    outcome = bpy.ops.extensions.package_install_files(
        filepath=ARGS["zip"], repo="user_default", enable_on_install=True)
    enabled = ADDON in {a.module for a in bpy.context.preferences.addons}
    registered = hasattr(bpy.types, "SLICE3D_OT_reconstruct")
    disable()
    done(outcome=sorted(outcome), enabled=enabled, registered=registered)


run(main)
