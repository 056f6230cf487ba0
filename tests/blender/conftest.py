"""Fixtures for the Blender tests (the machinery lives in bl_harness.py)."""

from bl_harness import bpy_available, extension_zip, profile  # noqa: F401 - pytest fixtures

if not bpy_available():  # the bpy module is not installed: nothing here can run
    collect_ignore_glob = ["test_*.py"]
