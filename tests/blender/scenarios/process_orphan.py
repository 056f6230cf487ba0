"""Scenario: start the backend and vanish without stopping it (as a crashed Blender would)."""

import bpy
from _support import done, enable, finish


def main() -> None:
    ext = enable()
    outcome = sorted(bpy.ops.slice3d.backend_start())
    manager = ext.ui.state.MANAGER
    done(outcome=outcome, pid=manager.pid, url=manager.client.url,
         token_file=manager.files()[0])
    finish(0)  # no unregister, no atexit: only the kernel's parent-death signal is left


try:
    main()
except BaseException:  # noqa: BLE001
    import traceback

    traceback.print_exc()
    finish(3)
