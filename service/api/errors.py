"""Every error the API answers, in one JSON shape.

    {"error": {"code": "...", "message": "...", "field": "..."}}     (field only where one is at fault)

    ApiError                   raised by our handlers: status, code, message, field
    RequestValidationError     FastAPI's body validation → 400 invalid_json, 422 missing_field/invalid_field
    StarletteHTTPException     404 not_found, 405 method_not_allowed, ... (routing)
    StoreUnavailable           Redis down, for the review/admin API and dashboard → 503 store_unavailable
    Overloaded                 the model's queue is full (backpressure) → 503 overloaded + Retry-After
    Exception                  anything else → 500 internal_error (a bug of ours, logged with its traceback)

The content-type and body-size guards live in `body_guard`, a middleware, so they answer before FastAPI
tries to parse a body it can't.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

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
    if exc.status_code == 404:
        message = f"No such endpoint: {request.method} {request.url.path}. See /docs for the API."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}. See /docs for the API."
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
    return error_response(500, "internal_error", "The service failed unexpectedly; the error was logged.")


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


class BodyGuard:
    """Refuses request bodies that aren't JSON or can't be valid, before anything reads them."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, path_prefix: str = "/v1/") -> None:
        self.app, self.max_body_bytes, self.path_prefix = app, max_body_bytes, path_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        if not scope["path"].startswith(self.path_prefix):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
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
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            response = error_response(
                413,
                "payload_too_large",
                f"The body is {int(length)} bytes; no valid request is larger than {self.max_body_bytes}.",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _limited(receive, self.max_body_bytes, scope, send), send)


def _limited(receive: Receive, limit: int, scope: Scope, send: Send) -> Receive:
    """Wraps `receive` so a chunked body that grows past the limit is cut off with 413."""
    seen = 0

    async def wrapped() -> Any:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, "payload_too_large", f"The body exceeds {limit} bytes.")
        return message

    return wrapped
