"""Slice3D inference backend: image in, mesh bundle out. A plain Python package; never imports bpy."""

__version__ = "0.1.0"
