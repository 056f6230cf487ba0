"""Reconstruction options, validated once for the command line and the HTTP server alike."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from .errors import BackendError

BACKGROUND_MODES = ("auto", "alpha", "remove")
PREDICTOR_KINDS = ("auto", "network", "baseline")
FLIP_AVERAGE_MODES = ("auto", "on", "off")  # auto: what calibration chose for the weights
SILHOUETTE_FILL_MODES = ("auto", "off")  # auto: the weights' fill, if calibration chose one
MIN_RESOLUTION, MAX_RESOLUTION = 32, 256
MIN_FACE_BUDGET = 100  # fewer faces than this decimates any object to nothing, or to one triangle
MAX_FACE_BUDGET = 5_000_000
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class ReconstructOptions:
    resolution: int = 256  # effective marching-cubes grid size
    face_budget: int = 200_000  # 0 keeps every face
    background: str = "auto"
    predictor: str = "auto"
    name: str = ""
    keep_sdf: bool = False
    flip_average: str = "auto"  # the network's mirror-image average: twice the SDF time
    silhouette_fill: str = "auto"  # sheets on masked rays the surface misses (thin parts)

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
