"""Shared fixtures for the backend tests: a real job server subprocess, a device, test images."""

from __future__ import annotations

import pytest
import torch
from backend_test_support import APPLE, UPLOAD_LIMIT_MB, ServerProcess


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One `python -m backend serve` for the server tests; every test leaves its queue empty."""
    proc = ServerProcess(
        tmp_path_factory.mktemp("server"), ("--max-upload-mb", str(UPLOAD_LIMIT_MB))
    )
    yield proc
    proc.kill()


@pytest.fixture(scope="session")
def cpu() -> torch.device:
    return torch.device("cpu")


@pytest.fixture(scope="session")
def apple_bytes() -> bytes:
    return APPLE.read_bytes()
