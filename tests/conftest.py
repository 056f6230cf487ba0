"""Marks the slow tests, so `make test-fast` (pytest -m "not slow") stays a loop of about a minute.

A test is slow when its module starts Blender, a backend process or a network, or builds data:
the prefixes below, chosen from `pytest --durations=0` on the whole suite. `make test` runs all.

It also gives the processes the tests start a terminal's Ctrl+C, whatever started the suite.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SLOW_PREFIXES = (
    "blender/",
    "client/",
    "backend/server/",
    "backend/test_cli.py",
    "backend/test_pipeline.py",
    "backend/test_bundle_safety.py",
    "backend/test_foreground.py",
    "backend/test_first_run.py",
    "backend/test_models_dir_health.py",
    "backend/test_u2net_model.py",
    "backend/test_ray_batch.py",
    "training/data/",
    "training/test_train_loop.py",
    "training/test_evaluate_run.py",
    "training/test_calibrate.py",
    "training/test_bench_inference.py",
    "training/test_device_train.py",
    "training/test_device_recipe.py",
    "training/test_texture_eval.py",
    "training/test_photo_sheet.py",
    "training/test_pose_eval.py",
    "training/test_evaluate_views.py",
    "backend/multiview/test_pose_search.py",
    "backend/predictors/test_shipped_fusion.py",
    "training/test_views_sheet.py",
    "scripts/test_bench_views.py",
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: left out of `make test-fast`; `make test` runs it")
    restore_ctrl_c()


def restore_ctrl_c() -> None:
    """A shell starts a background job (``make test &``, nohup) with SIGINT ignored, and a child
    inherits that: Python then never raises KeyboardInterrupt, so the Ctrl+C tests would see the
    CLI run to its end. A handled signal is reset to the default in a child, so handling it here
    gives every child a terminal's Ctrl+C."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(TESTS).as_posix()
        if rel.startswith(SLOW_PREFIXES):
            item.add_marker(pytest.mark.slow)
