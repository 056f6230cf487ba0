"""Who owns a state file or a work dir: one live server each, and leftovers of dead ones removed.

An owner holds an exclusive, non-blocking ``flock`` on a small lock file for as long as it lives
and writes ``{"pid", "instance"}`` into it (``instance``: a random id, so a reused pid is never
taken for the owner). The kernel drops the lock when the process dies, even by SIGKILL, so "the
lock can be taken" is "the owner is gone". Where ``fcntl`` is missing (Windows) the pid in the
file decides, through ``process_alive``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any

from .parent_watch import process_alive

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

INSTANCE = secrets.token_hex(8)  # this process's instance id
WORK_DIR_PREFIX = "slice3d-jobs-"
OWNER_FILE = ".owner"


class OwnerLock:
    """An exclusive claim on ``path`` (a lock file), held until ``release`` or process exit."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fh: IO[str] | None = None

    def acquire(self) -> bool:
        """Take the claim if no live process holds it; False when one does."""
        for _attempt in range(5):
            fh = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the lifetime
            if not self._lock(fh):
                fh.close()
                return False
            if self._same_file(fh):  # not a file its last owner unlinked meanwhile
                fh.seek(0)
                fh.truncate()
                fh.write(json.dumps({"pid": os.getpid(), "instance": INSTANCE}))
                fh.flush()
                self._fh = fh
                return True
            fh.close()
        return False

    def owner(self) -> dict[str, Any] | None:
        """What the lock file says about its owner (pid, instance), or None."""
        return read_owner(self.path)

    def release(self, unlink: bool = True) -> None:
        if self._fh is None:
            return
        if unlink and self._same_file(self._fh):
            self.path.unlink(missing_ok=True)
        self._fh.close()  # closing drops the lock
        self._fh = None

    @property
    def held(self) -> bool:
        return self._fh is not None

    def _lock(self, fh: IO[str]) -> bool:
        if fcntl is None:
            owner = read_owner(self.path)
            return not (owner and owner.get("pid") != os.getpid()
                        and process_alive(int(owner.get("pid", 0))))
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _same_file(self, fh: IO[str]) -> bool:
        try:
            return os.path.samestat(os.fstat(fh.fileno()), os.stat(self.path))
        except OSError:
            return False


def read_owner(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8")[:4096])
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def claim_work_dir(folder: Path) -> OwnerLock:
    """Mark a work dir as this process's, so a later start can tell it from a leftover."""
    lock = OwnerLock(Path(folder) / OWNER_FILE)
    lock.acquire()
    return lock


def clean_stale_work_dirs(parent: Path | None = None) -> list[Path]:
    """Remove ``slice3d-jobs-*`` folders (in the temp dir) whose owner process is gone.

    A folder without an owner file (from an older version, or one that crashed before writing
    it) is left alone: nothing proves it is a leftover of ours.
    """
    parent = Path(parent or tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = [p for p in parent.iterdir() if p.name.startswith(WORK_DIR_PREFIX)]
    except OSError:
        return removed
    for folder in candidates:
        if folder.is_symlink() or not folder.is_dir() or not (folder / OWNER_FILE).is_file():
            continue
        if hasattr(os, "getuid") and folder.stat().st_uid != os.getuid():
            continue
        lock = OwnerLock(folder / OWNER_FILE)
        if lock.acquire():  # the owner is gone: its lock went with it
            shutil.rmtree(folder, ignore_errors=True)
            lock.release(unlink=False)
            removed.append(folder)
    return removed
