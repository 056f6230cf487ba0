"""backend.server.parent_watch: the server exits once the process that started it is gone."""

from __future__ import annotations

import subprocess
import sys
import time

from backend_test_support import ServerProcess

from backend.server.parent_watch import process_alive


def test_process_alive_tracks_a_real_process():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert process_alive(child.pid)
    finally:
        child.kill()
        child.wait()
    assert not process_alive(child.pid)


def test_server_exits_when_its_parent_dies(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    server = ServerProcess(tmp_path, ("--parent-pid", str(parent.pid)))
    try:
        assert server.get("/health").status_code == 200
        parent.kill()
        parent.wait()
        server.proc.wait(timeout=30)
        assert server.proc.returncode == 0
        assert not server.state_file.exists()
    finally:
        if parent.poll() is None:
            parent.kill()
        if server.proc.poll() is None:
            server.proc.kill()


def test_server_stays_while_its_parent_lives(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    server = ServerProcess(tmp_path, ("--parent-pid", str(parent.pid)))
    try:
        time.sleep(2.5)  # more than two watch intervals
        assert server.proc.poll() is None
        assert server.get("/health").status_code == 200
    finally:
        parent.kill()
        parent.wait()
        server.proc.wait(timeout=30)
