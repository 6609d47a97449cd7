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

Compatible doors (an API other services already speak) answer in their own error envelope: every exception
above becomes an `ApiProblem` first (`problem_of`), and an `ErrorShape` writes it. Our shape is `our_shape`;
a door's routes use `shaped_route(its_shape)` and its body limits a `BodyRule` with its shape.
"""

from __future__ import annotations

import dataclasses
import html
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
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
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = dict(headers or {})


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


@dataclasses.dataclass(frozen=True)
class ApiProblem:
    """What went wrong with a request, before any door's envelope is put around it."""

    status: int
    code: str
    message: str
    field: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


ErrorShape = Callable[[ApiProblem], Response]
"""Writes an ApiProblem in one API's error envelope."""


def our_shape(problem: ApiProblem) -> Response:
    return error_response(
        problem.status, problem.code, problem.message, problem.field, headers=problem.headers or None
    )


def _validation_problem(exc: RequestValidationError) -> ApiProblem:
    errors = exc.errors()
    first: dict[str, Any] = errors[0] if errors else {"type": "", "loc": (), "msg": "invalid request"}
    where_field = _field(tuple(first.get("loc", ())))
    kind = first.get("type", "")
    if kind == "json_invalid":
        ctx = first.get("ctx") or {}
        return ApiProblem(400, "invalid_json", f"The body is not valid JSON: {ctx.get('error', kind)}.")
    if kind == "missing":
        if where_field is None:
            return ApiProblem(422, "missing_body", "The request needs a JSON body.")
        return ApiProblem(422, "missing_field", f"The field '{where_field}' is required.", where_field)
    msg = first.get("msg", "invalid value")
    where = f"The field '{where_field}'" if where_field else "The body"
    return ApiProblem(422, "invalid_field", f"{where} is invalid: {msg}.", where_field)


def _http_problem(request: Request, exc: StarletteHTTPException) -> ApiProblem:
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    # /docs is off in production; the OpenAPI document is always there.
    docs = request.app.docs_url or request.app.openapi_url
    if exc.status_code == 404:
        message = f"No such endpoint: {request.method} {request.url.path}. See {docs} for the API."
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}. See {docs} for the API."
    return ApiProblem(exc.status_code, code, message, headers=dict(getattr(exc, "headers", None) or {}))


#: The exceptions that are a client's or an operator's problem, not a bug: each has an ApiProblem.
PROBLEMS: tuple[type[Exception], ...] = (
    RequestValidationError,
    StarletteHTTPException,
    ApiError,
    StoreUnavailable,
    Overloaded,
)


def problem_of(request: Request, exc: Exception) -> ApiProblem:
    """The ApiProblem of one of PROBLEMS."""
    if isinstance(exc, RequestValidationError):
        return _validation_problem(exc)
    if isinstance(exc, StarletteHTTPException):
        return _http_problem(request, exc)
    if isinstance(exc, ApiError):
        return ApiProblem(exc.status, exc.code, exc.message, exc.field, headers=exc.headers)
    if isinstance(exc, StoreUnavailable):
        # Moderation itself never gets here (the pipeline carries on without the store); reading the log, the
        # queue or a status cannot.
        log.warning("%s %s: store unavailable: %s", request.method, request.url.path, exc)
        return ApiProblem(
            503,
            "store_unavailable",
            "The decision store (Redis) is not answering; try again shortly.",
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, Overloaded):
        return ApiProblem(503, "overloaded", str(exc), headers={"Retry-After": str(exc.retry_after_s)})
    raise TypeError(f"{type(exc).__name__} is not one of PROBLEMS")


def _in_our_shape(request: Request, exc: Exception) -> Response:
    return our_shape(problem_of(request, exc))


def shaped_route(shape: ErrorShape) -> type[APIRoute]:
    """An APIRoute class whose routes answer every one of PROBLEMS in `shape` (a compatible door's routes:
    `APIRouter(route_class=shaped_route(its_shape))`). Routing's own 404 and 405 stay in our shape."""

    class ShapedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def shaped(request: Request) -> Response:
                try:
                    return await handler(request)
                except PROBLEMS as exc:
                    return shape(problem_of(request, exc))

            return shaped

    return ShapedRoute


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(
        500,
        "internal_error",
        "The service failed unexpectedly; the error was logged.",
        headers={**BASE_HEADERS, "Cache-Control": "no-store"},
    )


def install_error_handlers(app: FastAPI) -> None:
    for problem in PROBLEMS:
        app.add_exception_handler(problem, _in_our_shape)
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


@dataclasses.dataclass(frozen=True)
class BodyRule:
    """How large a body the routes under `prefix` take, whether it must be JSON, and the envelope of the 413
    and 415 answers. BodyGuard applies the first rule whose prefix the path starts with."""

    prefix: str
    max_bytes: int
    json_only: bool = False
    shape: ErrorShape = our_shape


def page_too_large(problem: ApiProblem) -> Response:
    """The dashboard's 413: a short page (its forms are HTML, not JSON clients)."""
    return HTMLResponse(
        "<!doctype html><title>Too large</title><p>This form sent more than the dashboard accepts "
        f'({html.escape(problem.message)}) <a href="/dashboard">Back to the dashboard</a>.</p>',
        status_code=problem.status,
    )


class BodyGuard:
    """Bounds every request body, whatever its method, by the rule of the route it goes to (BodyRule: the
    JSON API, the dashboard's forms, each compatible door; a last rule for everything else), before
    anything reads it: a body that must be JSON and is not gets 415, one over the limit 413, each in the
    rule's envelope.

    A Content-Length over the limit is refused before the app runs; a body without one (chunked) is counted
    as it arrives and cut off at the limit: whatever the app made of the cut (FastAPI answers 400 for a body
    it could not read) is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, *, rules: Sequence[BodyRule], fallback: BodyRule) -> None:
        self.app, self.rules, self.fallback = app, tuple(rules), fallback

    def rule_for(self, path: str) -> BodyRule:
        return next((rule for rule in self.rules if path.startswith(rule.prefix)), self.fallback)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rule = self.rule_for(scope["path"])
        limit = rule.max_bytes
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "").strip()
        # ASCII digits only: "²".isdigit() is true and int() refuses it.
        declared = int(length) if length.isascii() and length.isdigit() else None
        has_body = bool(declared) or "transfer-encoding" in headers
        if rule.json_only and has_body and scope["method"] in ("POST", "PUT", "PATCH"):
            media_type = headers.get("content-type", "").split(";")[0].strip().lower()
            if media_type != "application/json" and not media_type.endswith("+json"):
                shown = media_type or "none"
                problem = ApiProblem(
                    415,
                    "unsupported_media_type",
                    f"Send the body as JSON with 'Content-Type: application/json' (got {shown}).",
                )
                await rule.shape(problem)(scope, receive, send)
                return
        if declared is not None and declared > limit:
            await rule.shape(_too_large(limit, declared))(scope, receive, send)
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
            await rule.shape(_too_large(limit, None))(scope, receive, send)


def _too_large(limit: int, declared: int | None) -> ApiProblem:
    message = (
        f"The body is {declared} bytes; this route accepts at most {limit} bytes."
        if declared is not None
        else f"The body exceeds {limit} bytes, the most this route accepts."
    )
    return ApiProblem(413, "payload_too_large", message)
