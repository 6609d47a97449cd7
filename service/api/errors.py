"""Every error the API answers, in one JSON shape.

    {"error": {"code": "...", "message": "...", "field": "..."}}     (field only where one is at fault)

    ApiError                   raised by our handlers: status, code, message, field
    RequestValidationError     FastAPI's body validation → 400 invalid_json, 422 missing_field/invalid_field
    StarletteHTTPException     404 not_found, 405 method_not_allowed, ... (routing)
    StoreUnavailable           Redis down, for the review/admin API and dashboard → 503 store_unavailable
    Overloaded                 the model's queue is full (backpressure) → 503 overloaded + Retry-After
    Exception                  anything else → 500 internal_error (a bug of ours, logged with its traceback)

Two guards answer before FastAPI sees the request, as middlewares, so nothing reads what they refuse:

    TrustedHosts               a Host outside Settings.allowed_hosts → 400 invalid_host (probes spared)
    BodyGuard                  every route's body bounded by its kind: JSON API → 415 unsupported_media_type,
                               413 payload_too_large; dashboard forms → 413 as a short page

The 500 answer leaves through Starlette's outermost middleware, past SecurityHeaders (service/api/surface.py),
so it carries BASE_HEADERS itself.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.surface import BASE_HEADERS, PROBE_PATHS
from service.model.batcher import Overloaded
from service.store.base import StoreUnavailable

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_response(status: int, code: str, message: str, field: str | None = None, **kw: Any) -> JSONResponse:
    detail = ErrorDetail(code=code, message=message, field=field)
    return JSONResponse(
        {"error": detail.model_dump(exclude_none=True)}, status_code=status, headers=kw.get("headers")
    )


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
    503: "unavailable",
}


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or None


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first: dict[str, Any] = errors[0] if errors else {"type": "", "loc": (), "msg": "invalid request"}
    field = _field(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        return error_response(400, "invalid_json", f"The body is not valid JSON: {ctx.get('error', kind)}.")
    if kind == "missing":
        if field is None:
            return error_response(422, "missing_body", "The request needs a JSON body.")
        return error_response(422, "missing_field", f"The field '{field}' is required.", field)
    msg = first.get("msg", "invalid value")
    where = f"The field '{field}'" if field else "The body"
    return error_response(422, "invalid_field", f"{where} is invalid: {msg}.", field)


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    # /docs is off in production; the OpenAPI document is always there.
    docs = request.app.docs_url or request.app.openapi_url
    if exc.status_code == 404:
        message = f"No such endpoint: {request.method} {request.url.path}. See {docs} for the API."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}. See {docs} for the API."
    return error_response(exc.status_code, code, message, headers=getattr(exc, "headers", None))


def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.field)


def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Moderation itself never gets here (the pipeline carries on without the store); reading the log, the
    # queue or a status cannot.
    log.warning("%s %s: store unavailable: %s", request.method, request.url.path, exc)
    return error_response(
        503,
        "store_unavailable",
        "The decision store (Redis) is not answering; try again shortly.",
        headers={"Retry-After": "5"},
    )


def _overloaded(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Overloaded)
    return error_response(503, "overloaded", str(exc), headers={"Retry-After": str(exc.retry_after_s)})


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        "internal_error",
        "The service failed unexpectedly; the error was logged.",
        headers={**BASE_HEADERS, "Cache-Control": "no-store"},
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StoreUnavailable, _store_unavailable)
    app.add_exception_handler(Overloaded, _overloaded)
    app.add_exception_handler(Exception, _unexpected)


#: Declared on routes so the OpenAPI document shows the error shape.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not valid JSON."},
    413: {"model": ErrorResponse, "description": "The body is larger than any valid request."},
    415: {"model": ErrorResponse, "description": "The body is not application/json."},
    422: {"model": ErrorResponse, "description": "A field is missing, of the wrong type, or out of range."},
}


class TrustedHosts:
    """Starlette's TrustedHostMiddleware, answering in the one error shape and sparing the probes (PROBE_PATHS:
    container health checks, load balancers and Prometheus address the service by its IP).

    Hosts are names ("comments.example.org"), "*.example.org" (its subdomains) or "*" (any)."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.names = frozenset(h.lower() for h in allowed_hosts if not h.startswith("*"))
        self.suffixes = tuple(h[1:].lower() for h in allowed_hosts if h.startswith("*."))

    def allows(self, host: str) -> bool:
        if self.any_host:
            return True
        # The port is not ours to judge; a bracketed IPv6 literal keeps its colons.
        name = host.lower()
        name = name[: name.find("]") + 1] if name.startswith("[") else name.partition(":")[0]
        return name in self.names or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBE_PATHS:
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        response = error_response(
            400,
            "invalid_host",
            "This service does not answer to that Host (MODERATION_ALLOWED_HOSTS).",
            "Host",
        )
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    """Raised out of `receive` when a body grows past its limit; BodyGuard answers 413 in its place."""


class BodyGuard:
    """Bounds every request body, whatever its method, by the kind of route it goes to, before anything
    reads it:

        /v1/...        the JSON API: a body must be JSON (else 415) and at most `json_max_bytes` (no valid
                       request is larger; else 413 in the error shape)
        /dashboard...  the moderators' forms: at most `form_max_bytes` (else 413, as a short page)
        anything else  reads no body: at most `form_max_bytes` too (else 413 in the error shape)

    A Content-Length over the limit is refused before the app runs; a body without one (chunked) is counted
    as it arrives and cut off at the limit: whatever the app made of the cut (FastAPI answers 400 for a body
    it could not read) is replaced by the 413.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        json_max_bytes: int,
        form_max_bytes: int,
        json_prefix: str = "/v1/",
        page_prefix: str = "/dashboard",
    ) -> None:
        self.app, self.json_max_bytes, self.form_max_bytes = app, json_max_bytes, form_max_bytes
        self.json_prefix, self.page_prefix = json_prefix, page_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_json = path.startswith(self.json_prefix)
        limit = self.json_max_bytes if is_json else self.form_max_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "").strip()
        # ASCII digits only: "²".isdigit() is true and int() refuses it.
        declared = int(length) if length.isascii() and length.isdigit() else None
        has_body = bool(declared) or "transfer-encoding" in headers
        if is_json and has_body and scope["method"] in ("POST", "PUT", "PATCH"):
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json" and not media_type.endswith("+json"):
                shown = media_type or "none"
                response = error_response(
                    415,
                    "unsupported_media_type",
                    f"Send the body as JSON with 'Content-Type: application/json' (got {shown}).",
                )
                await response(scope, receive, send)
                return
        if declared is not None and declared > limit:
            await self._too_large(path, limit, declared)(scope, receive, send)
            return

        seen = 0
        over = started = False

        async def counted_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over and not started:
                return  # the app's answer to a body it never fully got: the 413 goes out instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not over or started:
                raise
        if over and not started:
            await self._too_large(path, limit, None)(scope, receive, send)

    def _too_large(self, path: str, limit: int, declared: int | None) -> Response:
        if path.startswith(self.page_prefix):
            return HTMLResponse(
                "<!doctype html><title>Too large</title><p>This form sent more than the dashboard accepts "
                f'({limit} bytes). <a href="/dashboard">Back to the dashboard</a>.</p>',
                status_code=413,
            )
        message = (
            f"The body is {declared} bytes; this route accepts at most {limit}."
            if declared is not None
            else f"The body exceeds {limit} bytes, the most this route accepts."
        )
        return error_response(413, "payload_too_large", message)
