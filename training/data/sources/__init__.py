"""Shape sources behind one small interface (``base.Source``); ``get_source`` builds one by name."""

from __future__ import annotations

from training.data.sources.base import Dropped, Shape, Source

SOURCE_NAMES = (
    "procedural",
    "everyday",
    "cgal",
    "pybullet",
    "0ad",
    "sh3d-furniture",
    "sh3d-jar",
    "flightgear",
)


def get_source(name: str) -> Source:
    """Instantiate a source by name (imports lazily: real sources need their installed data)."""
    if name == "procedural":
        from training.data.sources.procedural import ProceduralSource

        return ProceduralSource()
    if name == "everyday":
        from training.data.families import EVERYDAY_FAMILIES
        from training.data.sources.procedural import ProceduralSource

        return ProceduralSource(list(EVERYDAY_FAMILIES), name="everyday")
    if name == "cgal":
        from training.data.sources.cgal import CgalSource

        return CgalSource()
    if name == "pybullet":
        from training.data.sources.pybullet import PybulletSource

        return PybulletSource()
    if name == "0ad":
        from training.data.sources.zeroad import ZeroAdSource

        return ZeroAdSource()
    if name in ("sh3d-furniture", "sh3d-jar"):
        from training.data.sources.sweethome import SweetHomeSource

        return SweetHomeSource(name)
    if name == "flightgear":
        from training.data.sources.flightgear import FlightGearSource

        return FlightGearSource()
    raise ValueError(f"unknown source {name!r}; choose from {', '.join(SOURCE_NAMES)}")


__all__ = ["SOURCE_NAMES", "Dropped", "Shape", "Source", "get_source"]
