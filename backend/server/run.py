"""Starting and stopping the server: token, socket, state file, graceful shutdown."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Callable, Generator
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from types import FrameType

import uvicorn

from .. import __version__
from ..device import resolve_device
from ..errors import BackendError
from ..pipeline import Reconstructor
from .app import MAX_UPLOAD_BYTES, create_app
from .guard import (
    GRACEFUL_SHUTDOWN_S,
    KEEP_ALIVE_S,
    MAX_CONNECTIONS,
    MAX_HEADER_BYTES,
    guarded_protocol,
    quiet_repeated_errors,
)
from .jobs import JobManager
from .ownership import (
    WORK_DIR_PREFIX,
    OwnerLock,
    claim_work_dir,
    clean_stale_work_dirs,
    read_owner,
)
from .parent_watch import watch_parent

# Stopping (POST /shutdown, SIGTERM, SIGINT, the parent gone) takes at most about
# GRACEFUL_SHUTDOWN_S for open requests plus WORKER_STOP_S for the running job: under 3 s.
WORKER_STOP_S = 1.5


def read_or_create_token(path: Path) -> str:
    """The shared secret: read it, or create the file (owner-only) with a fresh random token."""
    path = Path(path)
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
        token = path.read_text().strip()
    except OSError as exc:
        raise BackendError("bad_options",
                           f"Cannot read or create the token file {path}: {exc.strerror}.") from exc
    if len(token) < 16:
        raise BackendError("bad_options", f"The token in {path} is empty or shorter than 16 "
                           "characters; delete the file to have a new one made.")
    return token


def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        message = f"Cannot listen on {host}:{port}: {exc.strerror}."
        raise BackendError("bad_options", message) from exc
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def serve(
    host: str, port: int, token_file: Path, state_file: Path | None, device: str = "auto",
    work_dir: Path | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES,
    parent_pid: int | None = None,
) -> int:
    if parent_pid:  # from the start: a parent that dies while the model loads is noticed too
        watch_parent(parent_pid, _leave_unless_serving)
    token = read_or_create_token(token_file)
    _make_folders(state_file, work_dir)
    state_lock = _claim_state_file(state_file) if state_file else None
    try:
        return _serve(host, port, token, state_file, state_lock, device, work_dir,
                      max_upload_bytes, parent_pid)
    finally:
        if state_lock is not None:
            state_lock.release()


def _serve(
    host: str, port: int, token: str, state_file: Path | None, state_lock: OwnerLock | None,
    device: str, work_dir: Path | None, max_upload_bytes: int, parent_pid: int | None,
) -> int:
    if not _is_loopback(host):
        print(f"warning: serving on {host}, reachable beyond this machine; anyone with the token "
              "can use it.", file=sys.stderr)
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{actual_port}"
    raise_open_file_limit()
    work, work_lock = _open_work_dir(work_dir)
    manager = JobManager(Reconstructor(resolve_device(device)), work)
    server: StoppingServer | None = None

    def request_shutdown() -> None:
        manager.begin_stop()  # the running job stops now, while the connections drain
        if server is not None:
            server.should_exit = True

    app = create_app(manager, token, request_shutdown, max_upload_bytes)

    @asynccontextmanager
    async def lifespan(_app):
        manager.start()
        try:  # a failed start stops the worker too: exiting under its warm-up aborts the process
            print(f"Slice3D backend listening on {url}", flush=True)
            if state_file:  # last: whoever waits on the state file finds the banner printed
                _write_atomically(state_file, {"url": url, "port": actual_port,
                                               "pid": os.getpid(), "version": __version__})
            SERVING.set()  # from now on a parent's death is a clean shutdown
            if parent_pid:
                watch_parent(parent_pid, request_shutdown)
            yield
        finally:
            manager.stop(WORKER_STOP_S)
            manager.remove_all_files()
            if state_file:
                _remove_if_ours(Path(state_file))
            if work_lock is not None:  # our own temporary work dir
                work_lock.release(unlink=False)
                shutil.rmtree(work, ignore_errors=True)

    app.router.lifespan_context = lifespan
    config = uvicorn.Config(
        app, log_level="warning", http=guarded_protocol(token),
        # uvicorn's hint says int, but the value only reaches asyncio.wait_for: a float is fine
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,  # type: ignore[arg-type]
        timeout_keep_alive=KEEP_ALIVE_S,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES, limit_concurrency=MAX_CONNECTIONS,
    )
    quiet_repeated_errors()  # after Config, which sets up uvicorn's loggers
    server = StoppingServer(config, on_signal=manager.begin_stop)
    server.run(sockets=[sock])
    code = 0 if server.started else 1  # uvicorn returns quietly when startup failed
    # Everything is cleaned up by now. Leave at once: the worker may still be inside a stage
    # that cannot be interrupted (marching cubes, decimation), and the interpreter would abort
    # under it; unloading torch and onnxruntime alone takes about a second.
    _exit_now(code, state_lock)
    return code


def _open_work_dir(work_dir: Path | None) -> tuple[Path, OwnerLock | None]:
    """The given work dir, or a fresh temporary one marked as ours (its lock returned) after
    the leftovers of servers that died without cleaning up are removed."""
    if work_dir is not None:
        return Path(work_dir), None
    clean_stale_work_dirs()
    work = Path(tempfile.mkdtemp(prefix=WORK_DIR_PREFIX))
    return work, claim_work_dir(work)


SERVING = threading.Event()


def _leave_unless_serving() -> None:
    """The parent died before the server was up: nothing was handed out yet, so just leave."""
    if not SERVING.is_set():
        os._exit(0)


def _exit_now(code: int, state_lock: OwnerLock | None) -> None:
    if state_lock is not None:
        state_lock.release()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class StoppingServer(uvicorn.Server):
    """uvicorn's server, except that SIGINT and SIGTERM stop the running job at once and end in a
    clean exit (status 0) instead of re-raising the signal once the server is down."""

    def __init__(self, config: uvicorn.Config, on_signal: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_signal = on_signal

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler runs on the main thread between two bytecodes, possibly inside a
        # `with lock:` of the code it interrupted. on_signal takes the job manager's lock, so on
        # the main thread it could wait forever for a lock its own thread holds. On a thread of
        # its own it waits until the interrupted code lets go.
        threading.Thread(target=self._on_signal, name="slice3d-stop-on-signal",
                         daemon=True).start()
        super().handle_exit(sig, frame)

    @contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


def _claim_state_file(state_file: Path) -> OwnerLock:
    """One server per state file: refuse one a live server owns, take over a dead one's."""
    state_file = Path(state_file)
    lock = OwnerLock(state_file.with_name(f".{state_file.name}.lock"))
    if not lock.acquire():
        owner = lock.owner() or {}
        raise BackendError(
            "bad_options",
            f"Another Slice3D backend (pid {owner.get('pid', '?')}) is running with the state "
            f"file {state_file}; stop it first or choose another --state-file.")
    return lock


def _remove_if_ours(state_file: Path) -> None:
    """Remove the state file only if it still names this process."""
    owner = read_owner(state_file)
    if owner is not None and owner.get("pid") == os.getpid():
        state_file.unlink(missing_ok=True)


def raise_open_file_limit(wanted: int = 8192) -> None:
    """A soft limit of 1024 open files is easy to reach with slow clients; use what is allowed."""
    try:
        import resource
    except ImportError:  # Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _make_folders(state_file: Path | None, work_dir: Path | None) -> None:
    """Create the state file's folder and the work dir before starting, so a bad path is one
    clear error here rather than a traceback and a failed startup inside uvicorn."""
    if state_file and Path(state_file).is_dir():
        raise BackendError("bad_options", f"--state-file {state_file} is a folder; name a file.")
    wanted = {"--state-file": Path(state_file).parent if state_file else None,
              "--work-dir": work_dir}
    for what, folder in wanted.items():
        if folder is None:
            continue
        try:
            Path(folder).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise BackendError("bad_options", f"Cannot create the folder {folder} (for {what}): "
                               f"{exc.strerror}.") from exc


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _write_atomically(path: Path, data: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)
