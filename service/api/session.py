"""POST /v1/session (log in for the JSON admin API) and DELETE /v1/session (log out; ?everywhere=true ends
every session of the user, on every device).

The dashboard logs in through its own form (/dashboard/login); both set the same session cookie, and both
count their attempts against the same limits (service/auth.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from service.api.deps import AdminDep, AuthDep, LoginLimiterDep, SessionsDep
from service.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse, error_response
from service.auth import AdminAuth

router = APIRouter(prefix="/v1/session", tags=["admin"])


class LoginIn(BaseModel):
    user: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class SessionOut(BaseModel):
    user: str
    csrf_token: str = Field(description="Send it as X-CSRF-Token on every POST/DELETE of the admin API.")
    expires_at: datetime


_LOGIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorResponse, "description": "Wrong user or password."},
    429: {
        "model": ErrorResponse,
        "description": "Too many login attempts from this address or for this user; Retry-After says when "
        "the next one is allowed (the right password is refused too until then).",
    },
    503: {"model": ErrorResponse, "description": "The store (Redis) is not answering; try again shortly."},
}
_LOGOUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No session: not logged in, or logged out already."},
    403: {"model": ErrorResponse, "description": "The session's CSRF token is missing from X-CSRF-Token."},
    503: {"model": ErrorResponse, "description": "The store (Redis) is not answering; try again shortly."},
}


def set_session_cookie(response: Response, auth: AdminAuth, value: str) -> None:
    response.set_cookie(
        auth.cookie_name,
        value,
        max_age=auth.max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=auth.secure_cookies,
    )


def clear_session_cookie(response: Response, auth: AdminAuth) -> None:
    # With the attributes it was set with: browsers ignore a __Host- cookie's deletion that is not Secure.
    response.delete_cookie(
        auth.cookie_name, path="/", httponly=True, samesite="strict", secure=auth.secure_cookies
    )


def too_many_attempts(retry_after_s: int) -> JSONResponse:
    return error_response(
        429,
        "too_many_login_attempts",
        f"Too many login attempts; try again in {retry_after_s} s.",
        headers={"Retry-After": str(retry_after_s)},
    )


@router.post("", response_model=SessionOut, summary="Log in (admin API)", responses=_LOGIN_RESPONSES)
async def login(
    body: LoginIn,
    request: Request,
    auth: AuthDep,
    sessions: SessionsDep,
    limiter: LoginLimiterDep,
    response: Response,
) -> SessionOut | JSONResponse:
    # A cross-site form cannot send application/json (BodyGuard refuses anything else on /v1/), so this
    # endpoint needs no CSRF token of its own.
    retry_after_s = await limiter.attempt(request.client.host if request.client else None, body.user)
    if retry_after_s is not None:
        return too_many_attempts(retry_after_s)
    if not auth.check_login(body.user, body.password):
        raise ApiError(401, "invalid_credentials", "Wrong user or password.")
    session, cookie = await sessions.start()
    set_session_cookie(response, auth, cookie)
    return SessionOut(
        user=session.user, csrf_token=session.csrf, expires_at=datetime.fromtimestamp(session.expires, tz=UTC)
    )


@router.delete("", status_code=204, summary="Log out (admin API)", responses=_LOGOUT_RESPONSES)
async def logout(
    session: AdminDep,
    auth: AuthDep,
    sessions: SessionsDep,
    response: Response,
    everywhere: bool = Query(
        default=False, description="End every session of the user (all devices), not only this one."
    ),
) -> Response:
    if everywhere:
        await sessions.end_everywhere(session)
    else:
        await sessions.end(session)
    clear_session_cookie(response, auth)
    response.status_code = 204
    return response
