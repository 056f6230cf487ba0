"""Scenario: a new session finds the running backend via the state file; remote mode; stop."""

import os

from _support import ARGS, disable, done, enable, pid_alive, run


def main() -> None:
    ext = enable()
    process = ext.operators.process
    manager = process.MANAGER
    status = manager.ensure_started()
    found = {"state": status.state, "pid": manager.pid, "own_child": manager.proc is not None}
    with open(ARGS["token_file"]) as fh:
        token = fh.read().strip()
    # Remote mode: the same server by URL and token (no process management).
    os.environ["SLICE3D_SERVER_URL"], os.environ["SLICE3D_TOKEN"] = ARGS["url"], token
    remote = process.BackendManager()
    remote_ok = remote.ensure_started().state
    os.environ["SLICE3D_TOKEN"] = "wrong-token"
    bad = process.BackendManager().ensure_started()
    remote.stop()  # stopping a remote backend only forgets it
    remote_alive = pid_alive(ARGS["pid"])
    del os.environ["SLICE3D_SERVER_URL"], os.environ["SLICE3D_TOKEN"]
    disable()  # stops the backend found via the state file
    done(found=found, remote=remote_ok, bad=[bad.state, bad.message],
         remote_alive_after_stop=remote_alive, alive_after_disable=pid_alive(ARGS["pid"]))


run(main)
