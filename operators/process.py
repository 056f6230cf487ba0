"""The backend server process: start on first use, find again, notice crashes, stop on quit.

The server writes its address to a state file (docs/API.md); the token lives in a token file in the
extension's user folder, so a backend started by an earlier session of the add-on is found again.
Only this module starts or stops processes; it never blocks longer than a short HTTP call, except
`wait_ready`, which the headless (synchronous) path uses.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass

import bpy

from . import paths, settings
from .client import BackendError, BackendUnreachable, Client


@dataclass
class Status:
    """What the panel shows: state is stopped | starting | ready | busy | error."""

    state: str = "stopped"
    message: str = ""
    version: str = ""
    device: str = ""
    model: str = ""


class BackendManager:
    """Owns at most one backend subprocess (or a remote server's address)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None  # the server's pid (ours or found via the state file)
        self.client: Client | None = None
        self.status = Status()
        self._started_at = 0.0
        self._log_handle = None

    # ----- files -------------------------------------------------------------------------------
    @staticmethod
    def files() -> tuple[str, str, str]:
        """(token file, state file, log file) in the extension's user folder."""
        folder = paths.user_dir("backend")
        return (os.path.join(folder, "token"), os.path.join(folder, "state.json"),
                os.path.join(folder, "backend.log"))

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the backend's log, for error messages."""
        try:
            with open(self.files()[2], encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[-lines:]).strip()
        except OSError:
            return ""

    # ----- discovery ---------------------------------------------------------------------------
    def _client_from_state(self) -> Client | None:
        token_file, state_file, _ = self.files()
        try:
            with open(state_file, encoding="utf-8") as fh:
                state = json.load(fh)
            with open(token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except (OSError, ValueError):
            return None
        self.pid = int(state.get("pid") or 0) or None
        return Client(str(state["url"]), token)

    def _healthy(self, client: Client) -> dict | None:
        try:
            return client.health(timeout=2.0)
        except BackendError:
            return None

    def _set_ready(self, health: dict) -> None:
        self.status = Status("ready" if health.get("ready", True) else "starting", "",
                             str(health.get("version", "")), str(health.get("device", "")),
                             str(health.get("model", "")))

    # ----- lifecycle ---------------------------------------------------------------------------
    def ensure_started(self) -> Status:
        """Non-blocking: start the backend if nothing answers, and report where it stands.

        Call repeatedly (from a timer) until the state is ready or error.
        """
        cfg = settings.backend_settings()
        if cfg.mode == "REMOTE":
            return self._check_remote(cfg)
        if self.client is not None:
            health = self._healthy(self.client)
            if health is not None:
                self._set_ready(health)
                return self.status
            if self.proc is not None and self.proc.poll() is None:
                self.status = Status("busy", "The backend is not answering (busy?)")
                return self.status
        crashed = self.crash_message()
        if crashed:
            self.status = Status("error", crashed)
            self._forget()
            return self.status
        if self.proc is None:
            found = self._client_from_state()
            if found is not None and self._pid_alive(self.pid):
                health = self._healthy(found)
                if health is not None:
                    self.client = found
                    self._set_ready(health)
                    return self.status
            # Nothing answers where the state file points. It may be stale (a crashed backend;
            # Windows cannot tell a dead pid cheaply), so start our own, which replaces it.
            self._start(cfg)
            return self.status
        # Our process is alive but not yet answering: see whether it wrote its state file.
        found = self._client_from_state()
        if found is not None and self.pid == self.proc.pid:
            health = self._healthy(found)
            if health is not None:
                self.client = found
                self._set_ready(health)
                return self.status
        if time.monotonic() - self._started_at > cfg.startup_timeout_s:
            self.stop()
            self.status = Status("error", f"The backend did not start within "
                                          f"{cfg.startup_timeout_s:.0f} s. {self.log_tail(5)}")
            return self.status
        self.status = Status("starting", "Starting the backend...")
        return self.status

    def wait_ready(self, timeout: float | None = None) -> Status:
        """Blocking: ensure_started until ready or error (the headless path)."""
        deadline = time.monotonic() + (timeout or settings.backend_settings().startup_timeout_s)
        while True:
            status = self.ensure_started()
            if status.state in ("ready", "error") or time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    def _check_remote(self, cfg: settings.BackendSettings) -> Status:
        if not cfg.server_url:
            self.status = Status("error", "Set the server URL in the add-on preferences")
            return self.status
        host = urllib.parse.urlsplit(cfg.server_url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1") and not bpy.app.online_access:
            self.status = Status("error", "Online access is off (Preferences > System > Network);"
                                          " a remote server needs it")
            return self.status
        self.client = Client(cfg.server_url, cfg.token)
        try:
            self._set_ready(self.client.health(timeout=3.0))
        except BackendError as exc:
            self.status = Status("error", str(exc))
        return self.status

    def _start(self, cfg: settings.BackendSettings) -> None:
        """Launch `python -m backend serve` on a free loopback port."""
        if not cfg.python:
            self.status = Status("error", "No backend Python: choose an interpreter or install "
                                          "a backend environment in the add-on preferences")
            return
        if not os.path.isfile(cfg.python):
            self.status = Status("error", f"Backend Python not found: {cfg.python}")
            return
        token_file, state_file, log_file = self.files()
        for stale in (state_file,):
            if os.path.exists(stale):
                os.remove(stale)
        cmd = [cfg.python, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", "0",
               "--token-file", token_file, "--state-file", state_file,
               "--device", cfg.device or "auto", "--parent-pid", str(os.getpid())]
        env = dict(os.environ)
        root = paths.backend_root()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        env.pop("PYTHONHOME", None)  # Blender's bundled Python must not leak into the backend
        if not env.get("U2NET_HOME") and os.path.isfile(
                os.path.join(paths.models_dir(), "u2netp.onnx")):
            env["U2NET_HOME"] = paths.models_dir()  # the copy "Install" keeps in the user folder
        self._close_log()
        self._log_handle = open(log_file, "w", encoding="utf-8")  # noqa: SIM115 (kept open)
        kwargs: dict = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW  # type: ignore[attr-defined]
        elif sys.platform.startswith("linux"):
            kwargs["preexec_fn"] = _die_with_parent
        try:
            self.proc = subprocess.Popen(cmd, cwd=root, env=env, stdin=subprocess.DEVNULL,
                                         stdout=self._log_handle, stderr=subprocess.STDOUT,
                                         **kwargs)
        except OSError as exc:
            self.status = Status("error", f"Could not start the backend: {exc}")
            self._close_log()
            return
        self.pid = self.proc.pid
        self.client = None
        self._started_at = time.monotonic()
        self.status = Status("starting", "Starting the backend...")

    def crash_message(self) -> str:
        """A readable message if our backend process has exited on its own, else ''."""
        if self.proc is None or self.proc.poll() is None:
            return ""
        code = self.proc.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        tail = self.log_tail(6)
        return f"The backend process {how}." + (f" Last log lines:\n{tail}" if tail else "")

    def explain_unreachable(self, exc: BackendUnreachable) -> str:
        """Why a request failed: a crash (with the log) beats a bare connection error."""
        crashed = self.crash_message()
        if crashed:
            self.status = Status("error", crashed)
            self._forget()
            return crashed
        if self.proc is None and self.pid and not self._pid_alive(self.pid):
            msg = "The backend process has stopped. It will be started again on the next run."
            self.status = Status("error", msg)
            self._forget()
            return msg
        self.status = Status("error", str(exc))
        return str(exc)

    def stop(self) -> None:
        """Stop the backend: POST /shutdown, then terminate, then kill. Never leaves an orphan of
        ours; one found through the state file is signalled only if it answered."""
        if settings.backend_settings().mode == "REMOTE" and self.proc is None:
            self._forget()
            self.status = Status()
            return
        client = self.client or self._client_from_state()
        answered = client is not None and self._ask_shutdown(client)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=3.0)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=3.0)
        elif answered and self.pid and self._pid_alive(self.pid):
            # Only a backend that answered: a pid from a stale state file may be reused by now.
            self._kill_pid(self.pid)
        state_file = self.files()[1]
        if os.path.exists(state_file) and (self.proc is not None or not self._pid_alive(self.pid)):
            os.remove(state_file)
        self._forget()
        self.status = Status()

    def release(self) -> None:
        """Blender quits or the add-on is disabled: stop the backend only if this Blender started
        it; one found through the state file may be serving another Blender, so forget it."""
        if self.proc is not None:
            self.stop()
            return
        self._forget()
        self.status = Status()

    @staticmethod
    def _ask_shutdown(client: Client) -> bool:
        """POST /shutdown; whether the backend answered (only then is its pid known to be it)."""
        try:
            client.shutdown()
        except BackendError:
            return False
        return True

    def _forget(self) -> None:
        self.proc = None
        self.client = None
        self.pid = None
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    @staticmethod
    def _pid_alive(pid: int | None) -> bool:
        if not pid:
            return False
        if os.name == "nt":
            return True  # no cheap check; /health decides
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie (exited, not yet reaped) counts as dead
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
                if fh.read().rpartition(")")[2].split()[:1] == ["Z"]:
                    return False
        except OSError:
            pass
        try:  # a zombie child of ours counts as dead
            done, _ = os.waitpid(pid, os.WNOHANG)
            return done == 0
        except ChildProcessError:
            return True

    @classmethod
    def _kill_pid(cls, pid: int) -> None:
        """Stop a backend found via the state file (not our child): wait, TERM, then KILL."""
        for sig in (None, signal.SIGTERM, getattr(signal, "SIGKILL", signal.SIGTERM)):
            try:
                if sig is not None:
                    os.kill(pid, sig)
            except OSError:
                return
            for _ in range(50):
                if not cls._pid_alive(pid):
                    return
                time.sleep(0.1)


def _die_with_parent() -> None:
    """Linux: the kernel sends SIGTERM to the backend if Blender dies without cleaning up
    (a crash or SIGKILL, where neither atexit nor unregister run)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


MANAGER = BackendManager()


def python_version_ok(python: str) -> str:
    """'' if the interpreter runs, else a message (used by the preferences' Check button)."""
    try:
        out = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"Cannot run {python}: {exc}"
    return "" if out.returncode == 0 else (out.stderr.strip() or "interpreter failed")


def blender_python() -> str:
    """Blender's bundled interpreter (the base for a new backend environment)."""
    return sys.executable
