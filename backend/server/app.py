"""HTTP routes (docs/API.md): token on every route, bounded uploads, errors as JSON."""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from .. import __version__
from .. import contract as c
from ..errors import BackendError
from ..multiview.request import VIEW_PARAMETERS, check_counts, from_query
from ..options import ReconstructOptions
from .jobs import FINISHED, Job, JobManager

MAX_UPLOAD_BYTES = c.MAX_UPLOAD_MB * 1024 * 1024
BODY_IDLE_TIMEOUT_S = 15.0  # an upload that sends nothing for this long is cut off (408)
BODY_TOTAL_TIMEOUT_S = 300.0  # and one that takes longer than this in all
DRAIN_MAX_BYTES = 1024 * 1024 * 1024  # read and thrown away after a 413, at most
DRAIN_TIMEOUT_S = 30.0
VIEW_SIZES_HELP = (f"several photos of one object (at most {c.MAX_VIEWS}): each photo's size in "
                   "bytes, in order; the body is their bytes one after another")
AZIMUTHS_HELP = ("each photo's camera azimuth in degrees relative to the first (which is 0), "
                 "counter-clockwise seen from above; found automatically when left out")
ELEVATIONS_HELP = ("each photo's camera elevation in degrees above the object's horizontal "
                   "plane; found automatically when left out")


def create_app(
    manager: JobManager, token: str, request_shutdown: Callable[[], None] = lambda: None,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    app = FastAPI(title="Slice3D backend", version=__version__, docs_url=None, redoc_url=None)
    _add_token_check_and_errors(app, token)
    _add_routes(app, manager, request_shutdown, max_upload_bytes)
    return app


def _add_token_check_and_errors(app: FastAPI, token: str) -> None:
    """The token on every route; errors always in the API's JSON shape."""
    expected = f"Bearer {token}".encode()

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            return _error(BackendError("unauthorized", "Missing or wrong token."))
        return await call_next(request)

    @app.exception_handler(BackendError)
    async def backend_error(_: Request, exc: BackendError):
        return _error(exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(BackendError("bad_options", f"{where}: {first.get('msg', 'invalid')}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception):
        return _error(BackendError("internal", "The backend hit an unexpected error."))


def _add_routes(
    app: FastAPI, manager: JobManager, request_shutdown: Callable[[], None],
    max_upload_bytes: int,
) -> None:
    @app.get("/health", summary="Version, device, model and readiness")
    def health() -> dict:
        from .. import u2net_model

        predictor = manager.reconstructor.predictor("auto")
        return {
            "version": __version__,
            "device": str(manager.reconstructor.device),
            "model": predictor.label,
            "model_kind": "baseline" if predictor.is_baseline else "network",
            "ready": True,
            "queue": manager.pending(),
            **u2net_model.status(),  # models_dir, background_removal_ready, models_setup_command
        }

    @app.post("/jobs", status_code=202,
              summary="Queue one image, or several photos of one object (raw bytes in the body)",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/octet-stream": {"schema": {"type": "string",
                                                          "format": "binary"}}}}})
    async def submit(
        request: Request,
        resolution: int = Query(c.RESOLUTION.default, description=c.RESOLUTION.help),
        face_budget: int = Query(c.FACE_BUDGET.default, description=c.FACE_BUDGET.help),
        background: str = Query(c.BACKGROUND.default, description=c.BACKGROUND.help),
        predictor: str = Query(c.PREDICTOR.default, description=c.PREDICTOR.help),
        name: str = Query(c.NAME.default, description=c.NAME.help),
        keep_sdf: bool = Query(c.KEEP_SDF.default, description=c.KEEP_SDF.help),
        flip_average: str = Query(c.FLIP_AVERAGE.default, description=c.FLIP_AVERAGE.help),
        silhouette_fill: str = Query(c.SILHOUETTE_FILL.default,
                                     description=c.SILHOUETTE_FILL.help),
        texture_size: int = Query(c.TEXTURE_SIZE.default, description=c.TEXTURE_SIZE.help),
        vertex_colors: bool = Query(c.VERTEX_COLORS.default, description=c.VERTEX_COLORS.help),
        view_sizes: str | None = Query(None, description=VIEW_SIZES_HELP),
        azimuths: str | None = Query(None, description=AZIMUTHS_HELP),
        elevations: str | None = Query(None, description=ELEVATIONS_HELP),
    ) -> JSONResponse:
        # Declared above so the OpenAPI description is complete; validated in one place here.
        query = dict(request.query_params)
        views = {key: query.pop(key) for key in VIEW_PARAMETERS if key in query}
        options = ReconstructOptions.from_strings(query)
        check_counts(views)
        body = await _read_bounded(request, max_upload_bytes)
        images = from_query(body, views, options.name)
        job = await run_in_threadpool(manager.submit, images, options)
        return JSONResponse({"id": job.id, "state": job.state}, status_code=202)

    @app.get("/jobs/{job_id}", summary="State, stage and progress of a job")
    def status(job_id: str) -> dict:
        job = manager.get(job_id)
        return _job_json(job, manager.queue_position(job))

    @app.get("/jobs/{job_id}/result", summary="The result bundle as a zip",
             responses={200: {"content": {"application/zip": {}}}})
    def result(job_id: str) -> Response:
        data = manager.result_zip(job_id)
        return Response(data, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="slice3d-{job_id}.zip"'})

    @app.delete("/jobs/{job_id}", summary="Cancel a job, or forget a finished one")
    def cancel(job_id: str) -> dict:
        # Judge by the state before the call: a failed or cancelled job is forgotten, not
        # cancelled again, and the answer should say so.
        finished = manager.get(job_id).state in FINISHED
        job = manager.cancel(job_id)
        return {"id": job.id, "state": "forgotten" if finished else "cancelled"}

    @app.post("/shutdown", summary="Stop the server gracefully")
    def shutdown() -> dict:
        request_shutdown()
        return {"state": "stopping"}


def _job_json(job: Job, position: int) -> dict:
    return {
        "id": job.id, "state": job.state, "stage": job.stage, "progress": job.progress,
        "error": job.error, "queue_position": position, "timings_s": job.timings_s,
    }


async def _read_bounded(request: Request, limit: int) -> bytes:
    """The body, refused with 413 once it is known to exceed the limit, with read timeouts.

    A refused body is still read to its end (and thrown away, up to DRAIN_MAX_BYTES within
    DRAIN_TIMEOUT_S) before the 413 goes out with ``Connection: close``: a server that closes
    while the client is still sending makes the client see a reset, not the 413.
    """
    declared = request.headers.get("content-length")
    size = int(declared) if declared and declared.isdigit() else None
    if size is not None and size > limit:
        expects = request.headers.get("expect", "").lower() == "100-continue"
        if expects or size > limit + DRAIN_MAX_BYTES:
            raise _too_large(limit)  # the client waits for our answer, or would send too much
        await _drain(request)
        raise _too_large(limit)
    chunks, total = [], 0
    deadline = time.monotonic() + BODY_TOTAL_TIMEOUT_S
    async for chunk in _stream_with_timeouts(request, deadline):
        total += len(chunk)
        if total > limit:
            await _drain(request)
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def _stream_with_timeouts(request: Request, deadline: float) -> AsyncIterator[bytes]:
    """request.stream(), but a body that stalls for BODY_IDLE_TIMEOUT_S, or takes longer than
    the deadline in all, ends the request with 408."""
    stream = request.stream().__aiter__()
    while True:
        wait = min(BODY_IDLE_TIMEOUT_S, deadline - time.monotonic())
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=max(wait, 0.0))
        except StopAsyncIteration:
            return
        except ClientDisconnect:  # as a BackendError, not an unexpected one that logs a traceback
            raise BackendError("bad_image",
                               "The upload ended before the whole image arrived.") from None
        except TimeoutError:
            raise BackendError("upload_timeout", "The upload stalled or took too long; "
                               "send the whole image at once.") from None
        yield chunk


async def _drain(request: Request) -> None:
    """Read and discard what is left of the body, within bounds."""
    drained = 0
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        async for chunk in _stream_with_timeouts(request, deadline):
            drained += len(chunk)
            if drained > DRAIN_MAX_BYTES:
                return
    except (BackendError, ClientDisconnect):
        return


def _too_large(limit: int) -> BackendError:
    return BackendError(
        "too_large", f"The upload is larger than the {limit // (1024 * 1024)} MiB limit."
    )


def _error(exc: BackendError) -> JSONResponse:
    response = JSONResponse(exc.to_json(), status_code=exc.http_status)
    if exc.code in ("too_large", "upload_timeout"):
        response.headers["Connection"] = "close"  # what is left of the body is not read
    return response
