"""Scenario: drive the UI (modal timer) code paths by hand.

Under the bpy module no window exists, so Blender never calls modal(); this calls the operators'
own invoke-side start and modal() with TIMER events, as the window manager would.
"""

import time
from types import SimpleNamespace

import bpy
from _support import ARGS, EXAMPLE, disable, done, enable, run


class FakeOperator(SimpleNamespace):
    """Stands in for the operator instance: attribute storage plus report()."""

    def report(self, level, message):
        self.reports.append([sorted(level)[0], message])


def bind(op, cls, *names) -> None:
    """Give the stand-in the operator's own methods that modal() calls on it."""
    for name in names:
        setattr(op, name, getattr(cls, name).__get__(op))


def drive(cls, op, limit_s: float = 300.0) -> list[str]:
    """Send TIMER (and other) events to modal() until it stops running."""
    deadline = time.time() + limit_s
    other = SimpleNamespace(type="MOUSEMOVE")
    timer = SimpleNamespace(type="TIMER")
    while time.time() < deadline:
        assert cls.modal(op, bpy.context, other) == {"PASS_THROUGH"}
        outcome = cls.modal(op, bpy.context, timer)
        if outcome != {"PASS_THROUGH"}:
            return sorted(outcome)
        time.sleep(0.05)
    return ["TIMEOUT"]


def main() -> None:
    ext = enable()
    rec = ext.operators.reconstruct
    Throttle = ext.operators.modal_base.Throttle
    opts = bpy.context.scene.slice3d
    opts.image = bpy.data.images.load(EXAMPLE)
    opts.resolution = "64"
    op = FakeOperator(reports=[], _timer=None, _throttle=Throttle())
    bind(op, rec.SLICE3D_OT_reconstruct, "tick", "finish", "_keep")
    op._remove_timer = lambda context: None
    started = rec.SLICE3D_OT_reconstruct._start(op, bpy.context)
    progress_seen = []
    outcome = drive(rec.SLICE3D_OT_reconstruct, op)
    progress_seen.append(ext.ui.state.UI.job.stage)
    colls = sorted(c.name for c in bpy.data.collections if c.name.startswith("Slice3D"))

    # The same path, cancelled from the Cancel operator while the modal runs.
    opts.resolution = "256"
    op2 = FakeOperator(reports=[], _timer=None, _throttle=Throttle())
    bind(op2, rec.SLICE3D_OT_reconstruct, "tick", "finish", "_keep")
    op2._remove_timer = lambda context: None
    rec.SLICE3D_OT_reconstruct._start(op2, bpy.context)
    for _ in range(400):
        rec.SLICE3D_OT_reconstruct.modal(op2, bpy.context, SimpleNamespace(type="TIMER"))
        if op2._job.phase == "poll" and op2._job.progress > 0:
            break
        time.sleep(0.05)
    bar_text = op2._job.progress_text()  # what the sidebar's bar reads while it runs
    cancelled_id = op2._job.job_id
    cancel = sorted(bpy.ops.slice3d.cancel())
    outcome2 = drive(rec.SLICE3D_OT_reconstruct, op2)
    colls2 = sorted(c.name for c in bpy.data.collections if c.name.startswith("Slice3D"))

    # The next job starts at once after Cancel and runs to its result.
    opts.resolution = "64"
    op4 = FakeOperator(reports=[], _timer=None, _throttle=Throttle())
    bind(op4, rec.SLICE3D_OT_reconstruct, "tick", "finish", "_keep")
    op4._remove_timer = lambda context: None
    rec.SLICE3D_OT_reconstruct._start(op4, bpy.context)
    outcome4 = drive(rec.SLICE3D_OT_reconstruct, op4)
    cancelled_state = ext.ui.state.MANAGER.client.status(cancelled_id)["state"]
    for coll in [c for c in bpy.data.collections if c.name.startswith("Slice3D")]:
        if coll.name not in colls2:  # keep the batch's names below as they were
            bpy.data.batch_remove([*coll.all_objects, coll])

    # Batch Folder in the UI: one good image, one bad, bundles kept in the output folder.
    batch_cls = ext.operators.batch.SLICE3D_OT_batch
    opts.resolution = "64"
    op3 = FakeOperator(reports=[], _timer=None, _throttle=Throttle(),
                       directory=ARGS["batch_dir"], output=ARGS["batch_out"])
    bind(op3, batch_cls, "_next", "_report", "_remove_timer", "tick", "finish", "_start_job")
    prepared = batch_cls._prepare(op3, bpy.context)
    op3._next()
    outcome3 = drive(batch_cls, op3)
    colls3 = sorted(c.name for c in bpy.data.collections if c.name.startswith("Slice3D"))
    disable()
    done(started=started, outcome=outcome, reports=op.reports, colls=colls, stage=progress_seen,
         bar_text=bar_text, outcome4=outcome4, cancelled_state=cancelled_state,
         ui_message=ext.ui.state.UI.last_message, cancel=cancel, outcome2=outcome2,
         reports2=op2.reports, colls2=colls2,
         prepared=prepared, outcome3=outcome3, reports3=op3.reports, colls3=colls3,
         results3=[[r.path.rsplit("/", 1)[-1], r.ok] for r in op3._results])


run(main)
