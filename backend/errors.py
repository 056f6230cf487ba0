"""Errors a person can act on: a stable code, a plain message, and the HTTP status that fits."""

from __future__ import annotations

HTTP_STATUS = {
    "bad_image": 400,
    "image_too_small": 400,
    "no_object": 422,
    "bad_options": 422,
    "unauthorized": 401,
    "not_found": 404,
    "not_ready": 409,
    "output_exists": 409,
    "too_large": 413,
    "upload_timeout": 408,
    "not_an_image": 415,
    "cancelled": 409,
    "background_removal_unavailable": 503,
    "shutting_down": 503,
    "no_surface": 422,
    "internal": 500,
}


class BackendError(Exception):
    """An expected failure with a message meant for the user, not a stack trace."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def to_json(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}


class Cancelled(Exception):
    """Raised between stages or grid chunks when the job was cancelled."""


def failure_message(exc: BaseException) -> str:
    """A message a person can act on; the exception's type only when it was not foreseen."""
    if isinstance(exc, BackendError):
        return exc.message
    if isinstance(exc, Cancelled):
        return "cancelled"
    return f"unexpected failure ({type(exc).__name__}: {exc})"
