"""Fixtures for the client tests: plain Python, no bpy, a real backend subprocess on loopback.

The client package runs inside Blender's Python but imports nothing of Blender's, so these tests
import it straight from the repository root and drive a real `python -m backend serve`, started by
the client's own BackendManager with this interpreter.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from client.backend_process import BackendConfig, BackendManager  # noqa: E402

EXAMPLE = ROOT / "examples" / "apple.jpg"
MODELS = ROOT / ".models" / "u2net"


def local_config(state_dir: Path, **changes: object) -> BackendConfig:
    """A LOCAL backend run by this interpreter from this tree, its files in `state_dir`."""
    fields: dict = {"mode": "LOCAL", "python": sys.executable, "device": "cpu",
                    "startup_timeout_s": 180.0, "state_dir": str(state_dir),
                    "backend_root": str(ROOT), "models_dir": str(MODELS)}
    fields.update(changes)
    return BackendConfig(**fields)


def manager_for(config: BackendConfig) -> BackendManager:
    return BackendManager(lambda: config)


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("client-backend")


@pytest.fixture(scope="session")
def backend(state_dir: Path) -> Iterator[BackendManager]:
    """One backend for the session, started by a manager the way the add-on starts it."""
    manager = manager_for(local_config(state_dir))
    status = manager.wait_ready()
    assert status.state == "ready", (status, manager.log_tail())
    yield manager
    manager.stop()


@pytest.fixture()
def make_config(tmp_path: Path) -> Callable[..., BackendConfig]:
    """A config with a folder of its own (a backend of the test's own)."""
    return lambda **changes: local_config(tmp_path / "backend", **changes)
