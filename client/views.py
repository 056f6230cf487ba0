"""Several photos of one object (issue 35): what may be sent, and what the result says of them.

Photo 0 is the main (reference) photo; the others' poses, when the user knows them, are given as
azimuths (degrees, counter-clockwise seen from above as the camera moves round the object; the
main photo's is 0) and elevations (degrees above the object's horizontal plane), one per photo.
The backend checks all of this too; checking here first gives the message before any upload.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .contract import MAX_ELEVATION, MAX_VIEWS

__all__ = ["MAX_ELEVATION", "MAX_VIEWS", "NO_POSES", "Poses", "ViewsError", "check_views",
           "unused_photos", "view_entries"]


class ViewsError(ValueError):
    """The photos or their poses cannot be sent as they are; the message says what to change."""


@dataclass(frozen=True)
class Poses:
    """The photos' known poses in degrees, one value per photo; None: the backend finds them."""

    azimuths: tuple[float, ...] | None = None
    elevations: tuple[float, ...] | None = None


NO_POSES = Poses()


def check_views(count: int, poses: Poses = NO_POSES) -> None:
    """Raise ViewsError when `count` photos with these poses are not a job the backend takes."""
    if count < 1:
        raise ViewsError("Choose a photo to reconstruct")
    if count > MAX_VIEWS:
        raise ViewsError(f"At most {MAX_VIEWS} photos of one object in one reconstruction "
                         f"(the main photo and {MAX_VIEWS - 1} more); {count} were chosen")
    _check_values("azimuths", poses.azimuths, count)
    _check_values("elevations", poses.elevations, count)
    if poses.azimuths is not None and float(poses.azimuths[0]) != 0.0:
        raise ViewsError("The main photo's azimuth must be 0: the others are measured from it "
                         f"(it is {float(poses.azimuths[0]):g})")
    for k, value in enumerate(poses.elevations or ()):
        if not -MAX_ELEVATION <= float(value) <= MAX_ELEVATION:
            raise ViewsError(f"The elevation of photo {k + 1} must be between "
                             f"-{MAX_ELEVATION:g} and {MAX_ELEVATION:g} degrees "
                             f"(it is {float(value):g})")


def _check_values(name: str, values: tuple[float, ...] | None, count: int) -> None:
    if values is None:
        return
    if len(values) != count:
        raise ViewsError(f"{len(values)} {name} for {count} photos: give one per photo")
    bad = [k for k, v in enumerate(values) if not math.isfinite(float(v))]
    if bad:
        raise ViewsError(f"The {name[:-1]} of photo {bad[0] + 1} is not a number")


def view_entries(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The result's `views` list (one entry per photo); empty for bundles made before it."""
    views = result.get("views")
    return [v for v in views if isinstance(v, dict)] if isinstance(views, list) else []


def unused_photos(result: dict[str, Any], names: Sequence[str] = ()) -> list[str]:
    """What the result says about particular photos, one sentence each: those the backend left
    out with its reason, then its warnings about photos it used ("at the pose given ... check
    its azimuth"). `names` are the photos' names as the user knows them, in input order; they
    replace the backend's own ("photo 2" for a photo sent over HTTP)."""
    views = view_entries(result)
    lines = []
    for view in views:
        if not view.get("used", True):
            k = int(view.get("index", 0))
            text = str(view.get("message") or f"Photo {k + 1} was left out: no pose fits it")
            lines.append(_with_name(text, view, names))
    for warning in result.get("warnings") or ():
        about: dict[str, Any] | None = next(
            (v for v in views if str(warning).startswith(_who(v))), None)
        if about is not None and about.get("used", True) and len(views) > 1:
            lines.append(_with_name(str(warning), about, names))
    return lines


def _who(view: dict[str, Any]) -> str:
    """How the backend names a photo in its messages: "Photo 2 (side.jpg)"."""
    source = view.get("source")
    return f"Photo {int(view.get('index', 0)) + 1}" + (f" ({source})" if source else "")


def _with_name(text: str, view: dict[str, Any], names: Sequence[str]) -> str:
    k = int(view.get("index", 0))
    who = _who(view)
    if k < len(names) and names[k]:
        mine = f"Photo {k + 1} ({names[k]})"
        return mine + text[len(who):] if text.startswith(who) else f"{mine}: {text}"
    return text if text.startswith(f"Photo {k + 1}") else f"{who}: {text}"
