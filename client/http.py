"""A small HTTP client for the backend API (docs/API.md), stdlib only so no wheel is needed."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any


class ClientError(RuntimeError):
    """The backend answered with an error ({error: {code, message}}) or not at all."""

    def __init__(self, message: str, code: str = "error", status: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class BackendUnreachable(ClientError):
    """No answer at all: not started, crashed, or the wrong address."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="unreachable", status=0)


class Client:
    """Talks to one backend at `url` with a bearer token."""

    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        # A backend on this computer is never reached through an HTTP proxy (http_proxy set
        # without no_proxy would send loopback requests to the proxy).
        host = urllib.parse.urlsplit(self.url).hostname or ""
        self._opener = (urllib.request.build_opener(urllib.request.ProxyHandler({}))
                        if host in ("127.0.0.1", "localhost", "::1") else
                        urllib.request.build_opener())

    def _request(self, method: str, path: str, body: bytes | None = None,
                 timeout: float | None = None) -> tuple[bytes, str]:
        req = urllib.request.Request(self.url + path, data=body, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            req.add_header("Content-Type", "application/octet-stream")
        try:
            with self._opener.open(req, timeout=timeout or self.timeout) as resp:
                return resp.read(), str(resp.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            raise http_error(exc) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            msg = f"No answer from the backend at {self.url} ({reason})"
            raise BackendUnreachable(msg) from None

    def _json(self, method: str, path: str, body: bytes | None = None,
              timeout: float | None = None) -> dict[str, Any]:
        data, _ = self._request(method, path, body, timeout)
        try:
            answer: dict[str, Any] = json.loads(data.decode("utf-8"))
        except ValueError:
            msg = "The backend sent an answer that is not JSON"
            raise ClientError(msg, "bad_answer") from None
        return answer

    def health(self, timeout: float = 2.0) -> dict[str, Any]:
        """GET /health: {version, device, model, model_kind, ready, queue}."""
        return self._json("GET", "/health", timeout=timeout)

    def submit(self, image: bytes, **options: Any) -> str:
        """POST /jobs with the image bytes; returns the job id (a bad image raises at once)."""
        query = urllib.parse.urlencode({k: _fmt(v) for k, v in options.items() if v is not None})
        answer = self._json("POST", "/jobs?" + query, body=image, timeout=max(self.timeout, 60.0))
        return str(answer["id"])

    def submit_views(self, images: Sequence[bytes], azimuths: Sequence[float] | None = None,
                     elevations: Sequence[float] | None = None, **options: Any) -> str:
        """POST /jobs with several photos of one object in one body (docs/API.md): their sizes go
        in `view_sizes`, known poses (degrees) in `azimuths`/`elevations`; returns the job id."""
        views = views_query(images, azimuths, elevations)
        query = urllib.parse.urlencode(
            {**{k: _fmt(v) for k, v in options.items() if v is not None}, **views})
        try:
            answer = self._json("POST", "/jobs?" + query, body=b"".join(images),
                                timeout=max(self.timeout, 60.0))
        except ClientError as exc:
            if exc.status == 413:  # the limit is on the whole body: all the photos together
                message = str(exc).replace("The image is", "The photos together are", 1)
                raise ClientError(message, exc.code, exc.status) from None
            raise
        return str(answer["id"])

    def status(self, job_id: str) -> dict[str, Any]:
        """GET /jobs/{id}: state, stage, progress, error, timings_s."""
        return self._json("GET", f"/jobs/{urllib.parse.quote(job_id)}")

    def result(self, job_id: str) -> bytes:
        """GET /jobs/{id}/result: the bundle as zip bytes."""
        data, _ = self._request("GET", f"/jobs/{urllib.parse.quote(job_id)}/result",
                                timeout=max(self.timeout, 120.0))
        return data

    def cancel(self, job_id: str) -> dict[str, Any]:
        """DELETE /jobs/{id}: cancel a queued/running job or forget a finished one."""
        return self._json("DELETE", f"/jobs/{urllib.parse.quote(job_id)}")

    def shutdown(self) -> None:
        """POST /shutdown: ask the server to exit."""
        self._request("POST", "/shutdown", body=b"", timeout=3.0)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def views_query(images: Sequence[bytes], azimuths: Sequence[float] | None = None,
                elevations: Sequence[float] | None = None) -> dict[str, str]:
    """The query parameters that describe several photos: `view_sizes=N0,N1,...` (the body is
    the photos' bytes in this order), and the poses when known (`azimuths=0,90`, degrees)."""
    query = {"view_sizes": ",".join(str(len(image)) for image in images)}
    for name, values in (("azimuths", azimuths), ("elevations", elevations)):
        if values is not None:
            query[name] = ",".join(f"{float(v):g}" for v in values)
    return query


def http_error(exc: urllib.error.HTTPError) -> ClientError:
    """Turn an HTTP error into a ClientError carrying the server's own message."""
    code, message = "http_error", f"HTTP {exc.code} {exc.reason}"
    try:
        payload = json.loads(exc.read().decode("utf-8"))
        err = payload.get("error") or {}
        if isinstance(err, dict):
            code = str(err.get("code") or code)
            message = str(err.get("message") or message)
        elif isinstance(payload.get("detail"), str):
            message = payload["detail"]
    except (ValueError, AttributeError, OSError):
        pass
    if exc.code == 401:
        message = f"The backend refused the token ({message})"
    elif exc.code == 413:
        message = too_large_message(message)
    return ClientError(message, code, exc.code)


def too_large_message(server_message: str) -> str:
    """The 413 as a person reads it: "The image is larger than the backend accepts (N MB)"."""
    limit = re.search(r"(\d+)\s*MiB", server_message)
    return ("The image is larger than the backend accepts"
            + (f" ({limit.group(1)} MB)" if limit else f" ({server_message})"))
