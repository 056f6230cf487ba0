"""Scenario: start the backend, then end the interpreter normally (atexit must stop it)."""

import bpy
from _support import done, enable


def main() -> None:
    ext = enable()
    outcome = sorted(bpy.ops.slice3d.backend_start())
    done(outcome=outcome, pid=ext.ui.state.MANAGER.pid)


main()  # falls off the end: a normal interpreter exit
