"""The OpenAPI document declares every error a route can answer, in the one error shape.

A route declares its own errors (ERROR_RESPONSES, 404s, 409s, the metrics token's refusals); what it answers
because of what stands in front of it or what it depends on is added here, from the route itself:

    413              every route (BodyGuard bounds every body)
    400              every route TrustedHosts guards (all but the probes): a Host not allowed
    415              JSON API routes taking a body
    422              routes with parameters or a body (FastAPI's default HTTPValidationError replaced: the
                     service never answers in that shape)
    404              routes with path parameters (a value the router cannot place is "no such endpoint")
    401              routes that check the moderator's credentials or session (AuthDep, AdminDep)
    403              routes that need the session (AdminDep), on unsafe methods: the CSRF token
    503              routes that read the decision store (store_unavailable) or wait for the model (overloaded)

so a client, and the schemathesis fuzzing in tests/api/test_fuzz.py, can hold every answer to its schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, get_args

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from service.api.deps import AdminDep, AuthDep, DecisionsDep, PipelineDep
from service.api.errors import ErrorResponse
from service.api.surface import PROBE_PATHS

_SCHEMAS = "#/components/schemas/"
_ERROR = {"application/json": {"schema": {"$ref": f"{_SCHEMAS}ErrorResponse"}}}
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _dependency(alias: Any) -> Callable[..., Any]:
    """The function behind an `Annotated[..., Depends(f)]` alias."""
    call: Callable[..., Any] = get_args(alias)[1].dependency
    return call


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def _api_routes(routes: list[Any]) -> Iterator[Any]:
    """Every APIRoute under `routes`, with its path as mounted (FastAPI from 0.16x keeps included routers
    whole and names their routes through RouteContext objects; older ones list the routes themselves)."""
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    for route in contexts(routes) if contexts is not None else routes:
        if isinstance(getattr(route, "original_route", route), APIRoute) and route.include_in_schema:
            yield route


def _errors_of(route: Any, method: str) -> dict[str, str]:
    calls = set(_calls(route.dependant))
    d = route.dependant
    errors = {"413": "The body is larger than this route accepts."}
    if route.path_format not in PROBE_PATHS:
        errors["400"] = "The Host header names a host this service does not answer to."
    if route.path_format.startswith("/v1/") and method in {"POST", "PUT", "PATCH"} and route.body_field:
        errors["415"] = "The body is not application/json."
    if d.path_params or d.query_params or d.header_params or d.cookie_params or route.body_field:
        errors["422"] = "A parameter or field is missing, of the wrong type, or out of range."
    if d.path_params:
        errors["404"] = "Nothing is known by that name."
    if _dependency(AuthDep) in calls:
        errors["401"] = "Wrong user or password, or no moderator session (log in with POST /v1/session)."
    if _dependency(AdminDep) in calls and method in _UNSAFE:
        errors["403"] = "The session's CSRF token is missing from X-CSRF-Token."
    if _dependency(DecisionsDep) in calls:
        errors["503"] = "The decision store (Redis) is not answering; retry after Retry-After seconds."
    elif _dependency(PipelineDep) in calls:
        errors["503"] = "The model's queue is full; retry after Retry-After seconds."
    return errors


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return bool(schema.get("$ref", "").endswith("/HTTPValidationError"))


def add_error_responses(doc: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """`doc` (FastAPI's document for `routes`) with the errors above declared on every operation."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorResponse" not in schemas:
        generated = ErrorResponse.model_json_schema(ref_template=_SCHEMAS + "{model}")
        schemas.update(generated.pop("$defs", {}))
        schemas["ErrorResponse"] = generated
    for route in _api_routes(routes):
        for method in route.methods:
            operation = doc["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in _errors_of(route, method).items():
                if status not in responses or _is_fastapi_validation(responses[status]):
                    responses[status] = {"description": description, "content": _ERROR}
    if "HTTPValidationError" not in str(doc["paths"]):
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
    return doc


def declare_error_responses(app: FastAPI) -> None:
    """Make `app` serve its OpenAPI document with every route's error answers declared."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(build(), app.routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
