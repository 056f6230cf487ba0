"""Scenario: start a long job, and end the interpreter normally while it runs (Blender quitting:
atexit cancels the job and stops the backend)."""

import time

import bpy
from _support import EXAMPLE, done, enable


def main() -> None:
    ext = enable()
    state = ext.ui.state
    with open(EXAMPLE, "rb") as fh:
        image = fh.read()
    options = ext.client.remote_job.JobOptions(resolution=256, predictor="auto")
    job = state.start_job(image, "apple.jpg", options)
    deadline = time.monotonic() + 240
    while not (job.phase == "poll" and job.progress > 0) and time.monotonic() < deadline:
        job.step()
        time.sleep(0.05)
    done(phase=job.phase, pid=state.MANAGER.pid, state_file=state.MANAGER.files()[1],
         running=not job.finished, blender=bpy.app.version_string)


main()  # falls off the end during the job: a normal interpreter exit
