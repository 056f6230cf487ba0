"""The backend server process: start on first use, find again, notice crashes, stop on quit.

The server writes its address to a state file (docs/API.md); the token lives in a token file in a
folder the caller names (the extension's user folder), so a backend started by an earlier session
of the add-on is found again. Only this module starts or stops backend processes; it never blocks
longer than a short HTTP call, except `wait_ready`, which the headless (synchronous) path uses.

Nothing here knows Blender: where the files live, which interpreter runs the backend and whether
online access is allowed all come in through a `BackendConfig` that the caller supplies.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

from .http import BackendUnreachable, Client, ClientError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class BackendConfig:
    """How to reach the backend, and where its files live."""

    mode: str = "LOCAL"  # "LOCAL" (we start it) or "REMOTE" (a server someone else runs)
    python: str = ""  # interpreter for LOCAL
    device: str = "auto"  # auto | cuda | cpu
    server_url: str = ""  # for REMOTE
    token: str = ""  # for REMOTE
    startup_timeout_s: float = 180.0
    state_dir: str = ""  # the token, state and log files (created on demand)
    backend_root: str = ""  # the folder whose backend/ package the managed server runs
    models_dir: str = ""  # U2NET_HOME for the server when it holds u2netp.onnx
    online_access: bool = True  # whether a server off this computer may be reached
    installed: bool = False  # `python` is the Installed Environment's (what to say when missing)
    max_upload_mb: int = 0  # --max-upload-mb for a server we start (0: the backend's default)

# The stop sequence (docs/API.md, Stopping): POST /shutdown, SIGTERM after this many seconds if
# the backend still runs, then SIGKILL after SIGTERM_GRACE_S more.
SHUTDOWN_GRACE_S = 3.0
SIGTERM_GRACE_S = 5.0


@dataclass
class Status:
    """What the panel shows: state is stopped | starting | ready | busy | error."""

    state: str = "stopped"
    message: str = ""
    version: str = ""
    device: str = ""
    model: str = ""
    models_dir: str = ""  # GET /health: where the backend reads the background-removal model
    background_removal_ready: bool = True
    models_setup_command: str = ""


class BackendManager:
    """Owns at most one backend subprocess (or a remote server's address)."""

    def __init__(self, config: Callable[[], BackendConfig]) -> None:
        self.config = config  # read afresh on every start and stop (preferences may change)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid: int | None = None  # the server's pid (ours or found via the state file)
        self.client: Client | None = None
        self.status = Status()
        self._started_at = 0.0
        self._log_handle: IO[str] | None = None

    # ----- files -------------------------------------------------------------------------------
    def files(self) -> tuple[str, str, str]:
        """(token file, state file, log file) in the configured state folder."""
        folder = self.config().state_dir
        os.makedirs(folder, exist_ok=True)
        return (os.path.join(folder, "token"), os.path.join(folder, "state.json"),
                os.path.join(folder, "backend.log"))

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the backend's log, for error messages."""
        try:
            with open(self.files()[2], encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[-lines:]).strip()
        except OSError:
            return ""

    # ----- status changes a job reports --------------------------------------------------------
    def job_submitted(self) -> None:
        """A job of ours is on the backend: show it busy."""
        self.status.state = "busy"

    def job_ended(self) -> None:
        """Our job ended: a busy backend is ready again."""
        if self.status.state == "busy":
            self.status.state = "ready"

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

    @staticmethod
    def _healthy(client: Client) -> dict[str, Any] | None:
        try:
            return client.health(timeout=2.0)
        except ClientError:
            return None

    def _set_ready(self, health: dict[str, Any]) -> None:
        self.status = Status("ready" if health.get("ready", True) else "starting", "",
                             str(health.get("version", "")), str(health.get("device", "")),
                             str(health.get("model", "")), str(health.get("models_dir", "")),
                             bool(health.get("background_removal_ready", True)),
                             str(health.get("models_setup_command", "")))

    def _adopt(self, found: Client | None) -> bool:
        """Use `found` when it answers /health."""
        health = self._healthy(found) if found is not None else None
        if health is None:
            return False
        self.client = found
        self._set_ready(health)
        return True

    # ----- lifecycle ---------------------------------------------------------------------------
    def ensure_started(self) -> Status:
        """Non-blocking: start the backend if nothing answers, and report where it stands.

        Call repeatedly (from a timer) until the state is ready or error.
        """
        cfg = self.config()
        if cfg.mode == "REMOTE":
            return self._check_remote(cfg)
        if self.client is not None and self._current_answers():
            return self.status
        crashed = self.crash_message()
        if crashed:
            self._fail(crashed)
            return self.status
        if self.proc is None:
            # Nothing of ours runs. What the state file names may be stale (a crashed backend;
            # Windows cannot tell a dead pid cheaply): unless it answers, start our own.
            found = self._client_from_state()
            if not (found is not None and self._pid_alive(self.pid) and self._adopt(found)):
                self._start(cfg)
            return self.status
        # Our process is alive but not yet answering: see whether it wrote its state file.
        found = self._client_from_state()
        if self.pid == self.proc.pid and self._adopt(found):
            return self.status
        if time.monotonic() - self._started_at > cfg.startup_timeout_s:
            self.stop()
            log_file = self.files()[2]
            print(f"Slice3D: the backend did not start; {log_file} ends:\n{self.log_tail(40)}",
                  file=sys.stderr, flush=True)
            self.status = Status("error", f"The backend did not start within "
                                          f"{cfg.startup_timeout_s:.0f} s. Details: the console "
                                          f"and {log_file}")
            return self.status
        self.status = Status("starting", "Starting the backend...")
        return self.status

    def _current_answers(self) -> bool:
        """Whether the known client settles the status: it answers, or our process still runs."""
        assert self.client is not None
        health = self._healthy(self.client)
        if health is not None:
            self._set_ready(health)
            return True
        if self.proc is not None and self.proc.poll() is None:
            self.status = Status("busy", "The backend is not answering (busy?)")
            return True
        return False

    def wait_ready(self, timeout: float | None = None) -> Status:
        """Blocking: ensure_started until ready or error (the headless path)."""
        deadline = time.monotonic() + (timeout or self.config().startup_timeout_s)
        while True:
            status = self.ensure_started()
            if status.state in ("ready", "error") or time.monotonic() > deadline:
                return status
            time.sleep(0.2)

    def _check_remote(self, cfg: BackendConfig) -> Status:
        if not cfg.server_url:
            self.status = Status("error", "Set the server URL in the add-on preferences")
            return self.status
        host = urllib.parse.urlsplit(cfg.server_url).hostname or ""
        if host not in LOOPBACK_HOSTS and not cfg.online_access:
            self.status = Status("error", "Online access is off (Preferences > System > Network);"
                                          " a remote server needs it")
            return self.status
        self.client = Client(cfg.server_url, cfg.token)
        try:
            self._set_ready(self.client.health(timeout=3.0))
        except ClientError as exc:
            self.status = Status("error", str(exc))
        return self.status

    def _start(self, cfg: BackendConfig) -> None:
        """Launch `python -m backend serve` on a free loopback port."""
        problem = python_problem(cfg)
        if problem:
            self.status = Status("error", problem)
            return
        token_file, state_file, log_file = self.files()
        if os.path.exists(state_file):
            os.remove(state_file)
        cmd = [cfg.python, "-m", "backend", "serve", "--host", "127.0.0.1", "--port", "0",
               "--token-file", token_file, "--state-file", state_file,
               "--device", cfg.device or "auto", "--parent-pid", str(os.getpid())]
        if cfg.max_upload_mb:
            cmd += ["--max-upload-mb", str(cfg.max_upload_mb)]
        self._close_log()
        self._log_handle = open(log_file, "w", encoding="utf-8")  # noqa: SIM115 (kept open)
        try:
            self.proc = subprocess.Popen(cmd, cwd=cfg.backend_root, env=server_environment(cfg),
                                         stdin=subprocess.DEVNULL, stdout=self._log_handle,
                                         stderr=subprocess.STDOUT, **_detach_kwargs())
        except OSError as exc:
            self.status = Status("error", f"Could not start the backend: {exc}")
            self._close_log()
            return
        self.pid = self.proc.pid
        self.client = None
        self._started_at = time.monotonic()
        self.status = Status("starting", "Starting the backend...")

    def crash_message(self) -> str:
        """A short readable message if our backend process has exited on its own, else ''.

        The panel shows this; the log's last lines (a traceback, say) go to the console."""
        if self.proc is None or self.proc.poll() is None:
            return ""
        code = self.proc.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        tail = self.log_tail(40)
        if tail:
            print(f"Slice3D: the backend process {how}; its log ({self.files()[2]}) ends:\n{tail}",
                  file=sys.stderr, flush=True)
        return short_crash_message(how, tail, self.files()[2])

    def notice_crash(self) -> bool:
        """While idle: if our process has exited, show why and forget it (the next run starts a
        new one). Whether it had."""
        crashed = self.crash_message() if self.proc is not None else ""
        if crashed:
            self._fail(crashed)
        return bool(crashed)

    def explain_unreachable(self, exc: BackendUnreachable) -> str:
        """Why a request failed: a crash (with the log) beats a bare connection error."""
        crashed = self.crash_message()
        if crashed:
            self._fail(crashed)
            return crashed
        if self.proc is None and self.pid and not self._pid_alive(self.pid):
            msg = "The backend process has stopped. It will be started again on the next run."
            self._fail(msg)
            return msg
        self.status = Status("error", str(exc))
        return str(exc)

    def _fail(self, message: str) -> None:
        self.status = Status("error", message)
        self._forget()

    def stop(self) -> None:
        """Stop the backend: POST /shutdown, then terminate, then kill. Never leaves an orphan of
        ours; one found through the state file is signalled only if it answered."""
        if self.config().mode == "REMOTE" and self.proc is None:
            self._forget()
            self.status = Status()
            return
        client = self.client or self._client_from_state()
        answered = client is not None and self._ask_shutdown(client)
        if self.proc is not None:
            _wait_terminate_kill(self.proc)
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
        except ClientError:
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
        if _is_zombie(pid):  # exited, not yet reaped: counts as dead
            return False
        try:  # a zombie child of ours counts as dead
            done, _ = os.waitpid(pid, os.WNOHANG)
            return done == 0
        except ChildProcessError:
            return True

    @classmethod
    def _kill_pid(cls, pid: int) -> None:
        """Stop a backend found via the state file (not our child) after /shutdown: wait
        SHUTDOWN_GRACE_S, TERM, wait SIGTERM_GRACE_S, then KILL."""
        steps = ((None, SHUTDOWN_GRACE_S), (signal.SIGTERM, SIGTERM_GRACE_S),
                 (getattr(signal, "SIGKILL", signal.SIGTERM), SIGTERM_GRACE_S))
        for sig, grace in steps:
            try:
                if sig is not None:
                    os.kill(pid, sig)
            except OSError:
                return
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                if not cls._pid_alive(pid):
                    return
                time.sleep(0.05)


def python_problem(cfg: BackendConfig) -> str:
    """Why the backend interpreter cannot be used, or ''; says what to press."""
    python = cfg.python
    if cfg.installed and not (python and os.path.isfile(python)):
        online = "" if cfg.online_access else (
            " It downloads packages: allow online access first (Preferences > System > "
            "Network).")
        return ("The backend environment is not installed yet: press Install Backend "
                "Environment in the add-on preferences (Backend: Installed Environment)."
                + online + (f" Expected: {python}" if python else ""))
    if not python:
        return ("No backend Python: choose an interpreter or install a backend environment in "
                "the add-on preferences")
    if not os.path.isfile(python):
        return f"Backend Python not found: {python}"
    return ""


def short_crash_message(how: str, log_tail: str, log_file: str) -> str:
    """One or two sentences for the panel from a dead backend's log (never a traceback)."""
    missing = re.findall(r"ModuleNotFoundError: No module named '([^']+)'", log_tail)
    if missing:
        package = missing[-1].split(".")[0]
        return (f"This Python lacks the backend's packages ({package}): install "
                "requirements/backend.txt or use Installed Environment")
    lines = [ln.strip() for ln in log_tail.splitlines() if ln.strip()]
    error = next((ln for ln in reversed(lines) if ln.lower().startswith("error:")), "")
    if not error and lines and not lines[-1].startswith(("File ", "Traceback")):
        error = lines[-1]
    error = error[:200]
    return (f"The backend process {how}." + (f" {error}" if error else "")
            + f" Details: the console and {log_file}")


def server_environment(cfg: BackendConfig) -> dict[str, str]:
    """The server's environment: this one, with the backend importable and no leaking PYTHONHOME
    (Blender's bundled Python must not leak into the backend)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (cfg.backend_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONHOME", None)
    if (not env.get("U2NET_HOME") and not env.get("SLICE3D_MODELS_DIR") and cfg.models_dir
            and os.path.isfile(os.path.join(cfg.models_dir, "u2netp.onnx"))):
        env["U2NET_HOME"] = cfg.models_dir  # the copy "Install" keeps in the user folder
    return env


def _detach_kwargs() -> dict[str, Any]:
    """Popen arguments: no console window on Windows; on Linux, die with the parent."""
    if os.name == "nt":
        return {"creationflags": getattr(subprocess, "CREATE_NO_WINDOW", 0)}
    if sys.platform.startswith("linux"):
        parent = os.getpid()
        return {"preexec_fn": lambda: _die_with_parent(parent)}
    return {}


def _wait_terminate_kill(proc: subprocess.Popen[bytes]) -> None:
    """After /shutdown: give our own process SHUTDOWN_GRACE_S to exit, then SIGTERM, then
    SIGKILL after SIGTERM_GRACE_S more (the backend itself stops within about 0.5 s)."""
    try:
        proc.wait(timeout=SHUTDOWN_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=SIGTERM_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=SIGTERM_GRACE_S)


def _is_zombie(pid: int) -> bool:
    """Linux: whether /proc says the process has exited and awaits its parent."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[:1] == ["Z"]
    except OSError:
        return False


def _die_with_parent(parent: int) -> None:
    """Linux: the kernel sends SIGTERM to the backend if Blender dies without cleaning up
    (a crash or SIGKILL, where neither atexit nor unregister run). A parent that died before
    the request was made is caught by the check after it (prctl(2))."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)
