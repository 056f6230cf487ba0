"""Scenario: Repeat Last (Shift+R) after a Reconstruct, and the undo step of a Reconstruct.

Repeat Last calls execute(), which waits for a whole reconstruction: the UI would freeze. execute
is replaced here by a stand-in that adds one object, so no backend runs.
"""

import bpy
from _support import disable, done, enable, run


def main() -> None:
    ext = enable()
    cls = ext.operators.reconstruct.SLICE3D_OT_reconstruct
    calls: list[int] = []

    def execute(self, context):
        calls.append(1)
        context.scene.collection.objects.link(bpy.data.objects.new("Reconstructed", None))
        return {"FINISHED"}

    cls.execute = execute
    bpy.context.scene.slice3d.image = bpy.data.images.new("photo", 32, 32)
    bpy.ops.ed.undo_push(message="start")
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Marker", None))
    bpy.ops.ed.undo_push(message="before")
    # undo=True: a top-level call, as from the UI, so Blender registers it and pushes undo itself.
    outcome = sorted(bpy.ops.slice3d.reconstruct("EXEC_DEFAULT", True))
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window, screen=window.screen,
                                   area=window.screen.areas[0]):
        bpy.ops.screen.repeat_last()
    repeated = len(calls) - 1
    bpy.ops.ed.undo()
    # One step back is the state just before it: without an undo step of its own, the undo
    # would go to "start" and take the marker too.
    undone = "Reconstructed" not in bpy.data.objects and "Marker" in bpy.data.objects
    disable()
    done(outcome=outcome, repeated=repeated, undone=undone)


run(main)
