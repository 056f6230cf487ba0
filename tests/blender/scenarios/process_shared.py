"""Scenario: this Blender uses a backend another Blender started, then quits (or disables the
add-on): that backend must keep running for the other Blender."""

from _support import disable, done, enable, pid_alive, run


def main() -> None:
    ext = enable()
    state = ext.ui.state
    other = state.new_manager()  # the other Blender's manager: it starts the backend
    other_state = other.wait_ready().state
    found = state.MANAGER.ensure_started()  # this Blender finds it through the state file
    found = [found.state, state.MANAGER.pid == other.pid, state.MANAGER.proc is None]
    disable()  # unregister(): what quitting Blender (atexit) runs as well
    alive = pid_alive(other.pid)
    answers = other.ensure_started().state
    other.stop()
    done(other_state=other_state, found=found, alive_after_disable=alive, answers=answers,
         stopped_by_owner=not pid_alive(other.pid))


run(main)
