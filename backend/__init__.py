"""Slice3D inference backend: image in, mesh bundle out. Plain Python; never imports bpy."""

__version__ = "0.1.0"
