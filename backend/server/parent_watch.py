"""Stop the server when the process that started it (Blender) is gone, on every platform."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable


def process_alive(pid: int) -> bool:
    """True while pid runs. Windows needs its own query: os.kill there would terminate it."""
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def watch_parent(pid: int, on_gone: Callable[[], None], interval_s: float = 1.0) -> threading.Event:
    """Call on_gone once pid has exited; set the returned event to stop watching."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval_s):
            if not process_alive(pid):
                on_gone()
                return

    threading.Thread(target=loop, name="slice3d-parent-watch", daemon=True).start()
    return stop
