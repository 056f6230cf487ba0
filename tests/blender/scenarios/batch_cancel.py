"""Scenario: Cancel in the Batch Folder file browser, where Blender calls cancel() on the operator
that invoke() opened the browser for: execute() never ran."""

import bpy
from _support import disable, done, enable, run


def main() -> None:
    ext = enable()
    batch_cls = ext.operators.batch.SLICE3D_OT_batch
    outcome: list[str] = []

    class SLICE3D_OT_batch_cancel_probe(batch_cls):
        """A real instance of the operator, in the state the file browser leaves it in."""

        bl_idname = "slice3d.batch_cancel_probe"

        def execute(self, context):
            try:
                batch_cls.cancel(self, context)
                outcome.append("ok")
            except Exception as exc:  # noqa: BLE001 - reported to the test
                outcome.append(f"{type(exc).__name__}: {exc}")
            return {"FINISHED"}

    bpy.utils.register_class(SLICE3D_OT_batch_cancel_probe)
    bpy.ops.slice3d.batch_cancel_probe()
    bpy.utils.unregister_class(SLICE3D_OT_batch_cancel_probe)
    disable()
    done(cancel=outcome)


run(main)
