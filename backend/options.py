"""Reconstruction options, validated once for the command line and the HTTP server alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from . import contract
from .contract import (
    MAX_FACE_BUDGET,
    MAX_NAME_LENGTH,
    MAX_RESOLUTION,
    MAX_TEXTURE_SIZE,
    MIN_FACE_BUDGET,
    MIN_RESOLUTION,
    MIN_TEXTURE_SIZE,
)
from .errors import BackendError

BACKGROUND_MODES = contract.BACKGROUND.choices
PREDICTOR_KINDS = contract.PREDICTOR.choices
FLIP_AVERAGE_MODES = contract.FLIP_AVERAGE.choices  # auto: what calibration chose for the weights
SILHOUETTE_FILL_MODES = contract.SILHOUETTE_FILL.choices  # auto: the weights' fill, if any


@dataclass(frozen=True)
class ReconstructOptions:
    """The options of one reconstruction; every default comes from ``backend.contract``."""

    resolution: int = contract.RESOLUTION.default  # effective marching-cubes grid size
    face_budget: int = contract.FACE_BUDGET.default  # 0 keeps every face
    background: str = contract.BACKGROUND.default
    predictor: str = contract.PREDICTOR.default
    name: str = contract.NAME.default
    keep_sdf: bool = contract.KEEP_SDF.default
    flip_average: str = contract.FLIP_AVERAGE.default  # mirror-image average: twice the SDF time
    silhouette_fill: str = contract.SILHOUETTE_FILL.default  # sheets where the surface misses
    texture_size: int = contract.TEXTURE_SIZE.default  # texels a side of the baked texture
    vertex_colors: bool = contract.VERTEX_COLORS.default  # the old look: no texture

    def __post_init__(self) -> None:
        r = self.resolution
        if not (MIN_RESOLUTION <= r <= MAX_RESOLUTION) or r & (r - 1):
            raise BackendError(
                "bad_options",
                f"resolution must be a power of two from {MIN_RESOLUTION} to {MAX_RESOLUTION} "
                f"(got {r}).",
            )
        fb = self.face_budget
        if not (fb == 0 or MIN_FACE_BUDGET <= fb <= MAX_FACE_BUDGET):
            raise BackendError(
                "bad_options",
                f"face_budget must be 0 (no limit) or {MIN_FACE_BUDGET} to {MAX_FACE_BUDGET} "
                f"(got {fb}).",
            )
        if self.background not in BACKGROUND_MODES:
            raise BackendError("bad_options", f"background must be one of {BACKGROUND_MODES}.")
        if self.predictor not in PREDICTOR_KINDS:
            raise BackendError("bad_options", f"predictor must be one of {PREDICTOR_KINDS}.")
        if self.flip_average not in FLIP_AVERAGE_MODES:
            raise BackendError("bad_options",
                               f"flip_average must be one of {FLIP_AVERAGE_MODES}.")
        if self.silhouette_fill not in SILHOUETTE_FILL_MODES:
            raise BackendError("bad_options",
                               f"silhouette_fill must be one of {SILHOUETTE_FILL_MODES}.")
        if not MIN_TEXTURE_SIZE <= self.texture_size <= MAX_TEXTURE_SIZE:
            raise BackendError(
                "bad_options",
                f"texture_size must be {MIN_TEXTURE_SIZE} to {MAX_TEXTURE_SIZE} texels "
                f"(got {self.texture_size}).",
            )
        if len(self.name) > MAX_NAME_LENGTH:
            raise BackendError("bad_options",
                               f"name must be at most {MAX_NAME_LENGTH} characters.")

    @classmethod
    def from_strings(cls, raw: Mapping[str, str]) -> ReconstructOptions:
        """Build from query-string values, naming the option that is wrong."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise BackendError(
                "bad_options", f"Unknown option(s): {', '.join(unknown)}; known: {sorted(known)}."
            )
        values: dict = {}
        for key, text in raw.items():
            kind = known[key]
            if kind == "int":
                try:
                    values[key] = int(text)
                except ValueError:
                    raise BackendError("bad_options", f"{key} must be a whole number.") from None
            elif kind == "bool":
                lowered = text.strip().lower()
                if lowered not in ("true", "false", "1", "0", "yes", "no"):
                    raise BackendError("bad_options", f"{key} must be true or false.")
                values[key] = lowered in ("true", "1", "yes")
            else:
                values[key] = text
        return cls(**values)

    def flip_average_override(self) -> bool | None:
        """The predictor's ``flip_average`` argument: None keeps the weights' own setting."""
        return {"auto": None, "on": True, "off": False}[self.flip_average]

    def to_json(self) -> dict:
        return asdict(self)
