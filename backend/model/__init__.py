"""The Slice3D-compact network (defined once here; training imports it, never the reverse)."""

from .io import load_weights, read_metadata, save_weights, sha256_file
from .network import ModelConfig, Slice3DCompact, project_points, slab_coords

__all__ = [
    "ModelConfig",
    "Slice3DCompact",
    "load_weights",
    "project_points",
    "read_metadata",
    "save_weights",
    "sha256_file",
    "slab_coords",
]
