"""Scenario: a reloaded add-on finds the running backend via the state file; remote mode; stop."""

import os

import bpy
from _support import disable, done, enable, pid_alive, run


def main() -> None:
    ext = enable()
    process = ext.operators.process
    assert bpy.ops.slice3d.backend_start() == {"FINISHED"}
    first = process.MANAGER
    url, pid = first.client.url, first.pid
    with open(first.files()[0]) as fh:
        token = fh.read().strip()
    # A fresh manager (what a reloaded add-on module starts with) finds the same server.
    again = process.BackendManager()
    status = again.ensure_started()
    found = {"state": status.state, "same_pid": again.pid == pid,
             "own_child": again.proc is not None}
    # Remote mode: the same server by URL and token (no process management).
    os.environ["SLICE3D_SERVER_URL"], os.environ["SLICE3D_TOKEN"] = url, token
    remote = process.BackendManager()
    remote_ok = remote.ensure_started().state
    os.environ["SLICE3D_TOKEN"] = "wrong-token"
    bad = process.BackendManager().ensure_started()
    remote.stop()  # stopping a remote backend only forgets it
    remote_alive = pid_alive(pid)
    del os.environ["SLICE3D_SERVER_URL"], os.environ["SLICE3D_TOKEN"]
    again.stop()  # stops a server it did not start itself: /shutdown, then signals
    stopped_by_other = not pid_alive(pid)
    disable()
    done(found=found, remote=remote_ok, bad=[bad.state, bad.message],
         remote_alive_after_stop=remote_alive, stopped_by_other=stopped_by_other)


run(main)
