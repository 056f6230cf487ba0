"""Fixtures for the Blender tests (the machinery lives in bl_harness.py)."""

from bl_harness import extension_zip, profile  # noqa: F401 - pytest fixtures
