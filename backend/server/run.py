"""Starting and stopping the server: token, socket, state file, graceful shutdown."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import socket
import sys
import tempfile
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn

from .. import __version__
from ..device import resolve_device
from ..errors import BackendError
from ..pipeline import Reconstructor
from .app import MAX_UPLOAD_BYTES, create_app
from .jobs import JobManager
from .parent_watch import watch_parent


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
    token = read_or_create_token(token_file)
    _make_folders(state_file, work_dir)
    if not _is_loopback(host):
        print(f"warning: serving on {host}, reachable beyond this machine; anyone with the token "
              "can use it.", file=sys.stderr)
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{actual_port}"
    own_work_dir = work_dir is None
    work = Path(work_dir or tempfile.mkdtemp(prefix="slice3d-jobs-"))
    manager = JobManager(Reconstructor(resolve_device(device)), work)
    server: uvicorn.Server | None = None

    def request_shutdown() -> None:
        if server is not None:
            server.should_exit = True

    app = create_app(manager, token, request_shutdown, max_upload_bytes)

    @asynccontextmanager
    async def lifespan(_app):
        manager.start()
        try:  # a failed start stops the worker too: exiting under its warm-up aborts the process
            if state_file:
                _write_atomically(state_file, {"url": url, "port": actual_port,
                                               "pid": os.getpid(), "version": __version__})
            print(f"Slice3D backend listening on {url}", flush=True)
            if parent_pid:
                watch_parent(parent_pid, request_shutdown)
            yield
        finally:
            manager.stop()
            if state_file:
                Path(state_file).unlink(missing_ok=True)
            if own_work_dir:
                shutil.rmtree(work, ignore_errors=True)

    app.router.lifespan_context = lifespan
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0 if server.started else 1  # uvicorn returns quietly when startup failed


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
