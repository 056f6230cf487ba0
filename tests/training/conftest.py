"""Fixtures shared by the training tests."""

from __future__ import annotations

import pytest
from slice3d_tiny import make_tiny_dataset


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """Tiny shards (spheres) in the data engine's format, made once per test module."""
    return make_tiny_dataset(tmp_path_factory.mktemp("shards"))
