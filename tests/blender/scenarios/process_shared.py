"""Scenario: this Blender uses a backend another Blender started, then quits (or disables the
add-on): that backend must keep running for the other Blender."""

from _support import disable, done, enable, pid_alive, run


def main() -> None:
    ext = enable()
    process = ext.operators.process
    other = process.BackendManager()  # the other Blender's manager: it starts the backend
    other_state = other.wait_ready().state
    found = process.MANAGER.ensure_started()  # this Blender finds it through the state file
    found = [found.state, process.MANAGER.pid == other.pid, process.MANAGER.proc is None]
    disable()  # unregister(): what quitting Blender (atexit) runs as well
    alive = pid_alive(other.pid)
    answers = other.ensure_started().state
    other.stop()
    done(other_state=other_state, found=found, alive_after_disable=alive, answers=answers,
         stopped_by_owner=not pid_alive(other.pid))


run(main)
