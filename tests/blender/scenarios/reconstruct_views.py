"""Scenario: Reconstruct with more photos and known poses against the real backend, in the UI's
modal path: a cancelled run first, which adds nothing, then one to the end."""

import math
import time
from types import SimpleNamespace

import bpy
from _support import ARGS, EXAMPLE, disable, done, enable, run
from mathutils import Vector


class FakeOperator(SimpleNamespace):
    """Stands in for the operator instance (no window under the bpy module)."""

    def report(self, level, message):
        self.reports.append([sorted(level)[0], message])


def operator(rec, ext):
    op = FakeOperator(reports=[], _timer=None, _throttle=ext.operators.modal_base.Throttle())
    for name in ("tick", "finish", "_keep"):
        setattr(op, name, getattr(rec.SLICE3D_OT_reconstruct, name).__get__(op))
    op._remove_timer = lambda context: None
    return op


def drive(cls, op, limit_s: float = 300.0) -> list:
    deadline = time.time() + limit_s
    while time.time() < deadline:
        outcome = cls.modal(op, bpy.context, SimpleNamespace(type="TIMER"))
        if outcome != {"PASS_THROUGH"}:
            return sorted(outcome)
        time.sleep(0.05)
    return ["TIMEOUT"]


def counts() -> dict:
    return {n: len(getattr(bpy.data, n)) for n in ("objects", "cameras", "images", "collections")}


def main() -> None:
    ext = enable()
    rec = ext.operators.reconstruct
    opts = bpy.context.scene.slice3d
    opts.image = bpy.data.images.load(EXAMPLE)
    opts.resolution = ARGS.get("resolution", "64")
    opts.photos.add().image = bpy.data.images.load(ARGS["second"])
    opts.known_poses = True
    opts.photos[0].azimuth = math.radians(180.0)
    before = counts()
    # Cancelled while it runs: nothing is added.
    op = operator(rec, ext)
    started = rec.SLICE3D_OT_reconstruct._start(op, bpy.context)
    while op._job.phase != "poll" and not op._job.finished:
        rec.SLICE3D_OT_reconstruct.modal(op, bpy.context, SimpleNamespace(type="TIMER"))
        time.sleep(0.05)
    cancel = sorted(bpy.ops.slice3d.cancel())
    cancelled = drive(rec.SLICE3D_OT_reconstruct, op)
    reports_cancel = op.reports
    after_cancel = counts()
    # Run to the end.
    op = operator(rec, ext)
    t0 = time.time()
    rec.SLICE3D_OT_reconstruct._start(op, bpy.context)
    outcome = drive(rec.SLICE3D_OT_reconstruct, op)
    seconds = time.time() - t0
    coll = bpy.data.collections.get("Slice3D apple")
    cams = {o.name: o for o in coll.objects if o.type == "CAMERA"} if coll else {}
    facts = {}
    bpy.context.view_layer.update()  # matrix_world from location/rotation (no event loop here)
    for name, cam in cams.items():
        rot = cam.matrix_world.to_3x3()
        facts[name] = {"location": list(cam.location),
                       "direction": list(rot @ Vector((0, 0, -1))),
                       "backgrounds": len(cam.data.background_images),
                       "source": cam.get("slice3d_source"), "pose": cam.get("slice3d_pose")}
    meshes = [o.name for o in coll.all_objects if o.type == "MESH" and "Mesh" in o.name]
    # Poses found by the backend; a photo of another object is left out, and said so.
    opts.known_poses = False
    opts.photos[0].image = bpy.data.images.load(ARGS["other"])
    op_auto = operator(rec, ext)
    rec.SLICE3D_OT_reconstruct._start(op_auto, bpy.context)
    outcome_auto = drive(rec.SLICE3D_OT_reconstruct, op_auto)
    auto = bpy.data.collections.get("Slice3D apple.001")
    auto_cameras = sorted(o.name for o in auto.objects if o.type == "CAMERA") if auto else []
    disable()
    done(started=started, cancel=cancel, cancelled=cancelled, reports_cancel=reports_cancel,
         unchanged_after_cancel=after_cancel == before, outcome=outcome, reports=op.reports,
         cameras=facts, meshes=meshes, seconds=seconds, outcome_auto=outcome_auto,
         reports_auto=op_auto.reports, auto_cameras=auto_cameras,
         ui_message=ext.ui.state.UI.last_message)


run(main)
