"""POST /v1/session (log in for the JSON admin API) and DELETE /v1/session (log out).

The dashboard logs in through its own form (/dashboard/login); both set the same session cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from service.api.deps import AdminDep, AuthDep
from service.api.errors import ERROR_RESPONSES, ApiError
from service.auth import SESSION_COOKIE, AdminAuth

router = APIRouter(prefix="/v1/session", tags=["admin"])


class LoginIn(BaseModel):
    user: str = Field(max_length=200)
    password: str = Field(max_length=1000)


class SessionOut(BaseModel):
    user: str
    csrf_token: str = Field(description="Send it as X-CSRF-Token on every POST/DELETE of the admin API.")
    expires_at: datetime


def set_session_cookie(response: Response, auth: AdminAuth, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=auth.max_age_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=auth.secure_cookies,
    )


@router.post("", response_model=SessionOut, summary="Log in (admin API)", responses=ERROR_RESPONSES)
async def login(body: LoginIn, auth: AuthDep, response: Response) -> SessionOut:
    # A cross-site form cannot send application/json (BodyGuard refuses anything else on /v1/), so this
    # endpoint needs no CSRF token of its own.
    if not auth.check_login(body.user, body.password):
        raise ApiError(401, "invalid_credentials", "Wrong user or password.")
    session, cookie = auth.new_session()
    set_session_cookie(response, auth, cookie)
    return SessionOut(
        user=session.user, csrf_token=session.csrf, expires_at=datetime.fromtimestamp(session.expires, tz=UTC)
    )


@router.delete("", status_code=204, summary="Log out (admin API)")
async def logout(_: AdminDep, response: Response) -> Response:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.status_code = 204
    return response
