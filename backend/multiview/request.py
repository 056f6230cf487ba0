"""What a multi-view job asks for: the photos in order and any poses given, checked once for the
command line, the HTTP server and the batch alike (ARCHITECTURE.md section 5, docs/API.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..contract import MAX_ELEVATION, MAX_VIEWS
from ..errors import BackendError


@dataclass(frozen=True)
class ViewRequest:
    """Photos of one object, photo 0 the reference; poses in degrees, one per photo, or None
    where they are to be found."""

    images: tuple[bytes, ...]
    names: tuple[str, ...]
    azimuths: tuple[float, ...] | None = None
    elevations: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        count = len(self.images)
        if not 1 <= count <= MAX_VIEWS:
            raise BackendError("bad_options", f"A job takes 1 to {MAX_VIEWS} photos of one "
                               f"object (got {count}).")
        if len(self.names) != count:
            raise ValueError("one name per photo")
        check_poses(count, self.azimuths, self.elevations)

    @classmethod
    def single(cls, image: bytes, name: str = "") -> ViewRequest:
        return cls((image,), (name,))

    @property
    def count(self) -> int:
        return len(self.images)


def check_poses(count: int, azimuths: Sequence[float] | None,
                elevations: Sequence[float] | None) -> None:
    """One azimuth per photo with the first 0, one elevation per photo, all finite and in range;
    a message that says which value is wrong otherwise."""
    if azimuths is not None:
        if len(azimuths) != count:
            raise BackendError("bad_options", f"Give one azimuth per photo: {count} photos but "
                               f"{len(azimuths)} azimuths.")
        if not all(math.isfinite(a) for a in azimuths):
            raise BackendError("bad_options", "Azimuths must be numbers of degrees.")
        if azimuths[0] != 0:
            raise BackendError("bad_options", "The first photo is the reference: its azimuth "
                               f"must be 0 (got {azimuths[0]:g}).")
    if elevations is not None:
        if len(elevations) != count:
            raise BackendError("bad_options", f"Give one elevation per photo: {count} photos "
                               f"but {len(elevations)} elevations.")
        for k, e in enumerate(elevations):
            if not (math.isfinite(e) and -MAX_ELEVATION <= e <= MAX_ELEVATION):
                raise BackendError("bad_options", f"Elevation {k + 1} must be -{MAX_ELEVATION:g} "
                                   f"to {MAX_ELEVATION:g} degrees (got {e:g}).")


def parse_numbers(text: str, what: str) -> tuple[float, ...]:
    """'0,90,180' -> (0.0, 90.0, 180.0), naming the parameter when a value is not a number."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise BackendError("bad_options", f"{what} must be numbers separated by commas "
                           f"(got {text[:80]!r}).") from None
    if not all(math.isfinite(v) for v in values):
        raise BackendError("bad_options", f"{what} must be finite numbers.")
    return values


def parse_sizes(text: str, body_length: int) -> list[int]:
    """view_sizes '123,456' checked against the body: whole positive byte counts adding up to
    its length, at most MAX_VIEWS of them (docs/API.md)."""
    parts = text.split(",")
    if len(parts) > MAX_VIEWS:
        raise BackendError("bad_options", f"A job takes at most {MAX_VIEWS} photos "
                           f"(view_sizes lists {len(parts)}).")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        raise BackendError("bad_image", "view_sizes must be whole byte counts separated by "
                           f"commas (got {text[:80]!r}).") from None
    if any(n <= 0 for n in sizes):
        raise BackendError("bad_image", "Every view size must be at least 1 byte.")
    if sum(sizes) != body_length:
        raise BackendError("bad_image", f"view_sizes add up to {sum(sizes)} bytes but the body "
                           f"holds {body_length}; send the images' bytes one after another.")
    return sizes


def split_body(body: bytes, sizes: Sequence[int]) -> tuple[bytes, ...]:
    out, start = [], 0
    for n in sizes:
        out.append(body[start:start + n])
        start += n
    return tuple(out)


VIEW_PARAMETERS = ("view_sizes", "azimuths", "elevations")


def from_query(body: bytes, params: dict[str, str], name: str) -> bytes | ViewRequest:
    """The HTTP job's photos: the body as one image without ``view_sizes`` (as before), else
    split into photos by the sizes; the poses from ``azimuths``/``elevations`` (docs/API.md)."""
    azimuths = parse_numbers(params["azimuths"], "azimuths") if "azimuths" in params else None
    elevations = (parse_numbers(params["elevations"], "elevations") if "elevations" in params
                  else None)
    if "view_sizes" not in params:
        if azimuths is None and elevations is None:
            return body
        images: tuple[bytes, ...] = (body,)
    else:
        images = split_body(body, parse_sizes(params["view_sizes"], len(body)))
    names = (name,) + tuple(f"photo {k + 1}" for k in range(1, len(images)))
    return ViewRequest(images, names, azimuths, elevations)


def check_counts(params: dict[str, str]) -> None:
    """What can be checked before the body is read: the number of photos and of poses."""
    count = len(params["view_sizes"].split(",")) if "view_sizes" in params else 1
    if count > MAX_VIEWS:
        raise BackendError("bad_options", f"A job takes at most {MAX_VIEWS} photos "
                           f"(view_sizes lists {count}).")
    for key, what in (("azimuths", "azimuth"), ("elevations", "elevation")):
        if key in params and len(params[key].split(",")) != count:
            raise BackendError("bad_options", f"Give one {what} per photo: {count} photo"
                               f"{'s' if count > 1 else ''} but "
                               f"{len(params[key].split(','))} {key}.")
