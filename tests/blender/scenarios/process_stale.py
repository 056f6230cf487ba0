"""Scenario: a state file left by a crashed backend, with the pid check Windows has (none: every
pid counts as alive). Starting must not wait for it; stopping must not signal the pid it names."""

import json
import os
import secrets
import socket
import subprocess
import sys

from _support import disable, done, enable, pid_alive, run


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_stale_state(manager, pid: int) -> None:
    token_file, state_file, _ = manager.files()
    if not os.path.exists(token_file):
        with open(token_file, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    port = free_port()
    with open(state_file, "w") as fh:
        json.dump({"url": f"http://127.0.0.1:{port}", "port": port, "pid": pid}, fh)


def main() -> None:
    ext = enable()
    process = ext.operators.process
    process.BackendManager._pid_alive = staticmethod(lambda pid: bool(pid))  # as on Windows
    # stop(): the stale pid now belongs to an unrelated process, which must survive.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    write_stale_state(process.MANAGER, bystander.pid)
    process.BackendManager().stop()
    bystander_alive = bystander.poll() is None
    bystander.kill()
    # ensure_started(): the stale pid is gone; a fresh backend must start, not be waited for.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write_stale_state(process.MANAGER, gone.pid)
    manager = process.MANAGER
    manager.ensure_started()
    started_own = manager.proc is not None
    state = manager.wait_ready().state if started_own else manager.status.state
    new_pid = manager.pid
    disable()
    done(bystander_alive=bystander_alive, started_own=started_own, state=state,
         new_pid=new_pid, dead_pid=gone.pid, alive_after_disable=pid_alive(new_pid))


run(main)
