"""/dashboard/login (the form and its post) and /dashboard/logout (this session, or everywhere).

The login form comes before any session, so its CSRF token is a double submit: a cookie scoped to the login
path plus the same value in the form. The session cookie it sets is the one POST /v1/session sets, and its
attempts count against the same limits: past them the form comes back with 429 and Retry-After.
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.api.deps import AuthDep, LoginLimiterDep, SessionsDep
from service.api.session import clear_session_cookie, set_session_cookie
from service.auth import CSRF_FIELD, LOGIN_CSRF_COOKIE
from service.web.deps import CheckedForm, CurrentSession, LoginForm, PageSession
from service.web.responses import local_path, render, see_other

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

_LOGIN_PATH = "/dashboard/login"
# A login page left open longer than this posts a token whose cookie is gone: refused, and reloaded by hand.
_LOGIN_CSRF_MAX_AGE_S = 3600


@router.get("/login")
async def login_page(
    request: Request, auth: AuthDep, session: CurrentSession, next: str = "/dashboard"
) -> Response:
    if session is not None:
        return see_other(local_path(next))
    token = secrets.token_urlsafe(24)
    response = render(request, "login.html", {"login_csrf": token, "next": local_path(next), "error": None})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=_LOGIN_CSRF_MAX_AGE_S,
        path=_LOGIN_PATH,
        httponly=True,
        samesite="strict",
        secure=auth.secure_cookies,
    )
    return response


@router.post("/login")
async def login(
    request: Request, auth: AuthDep, sessions: SessionsDep, limiter: LoginLimiterDep, form: LoginForm
) -> Response:
    next_path = local_path(form.get("next"))
    user = form.get("user", "")
    retry_after_s = await limiter.attempt(request.client.host if request.client else None, user)
    if retry_after_s is not None:
        # The form again, with the same token (its cookie is still set), saying when to try again.
        refused = render(
            request,
            "login.html",
            {
                "login_csrf": form[CSRF_FIELD],
                "next": next_path,
                "error": f"Too many login attempts. Try again in {retry_after_s} seconds.",
            },
            status_code=429,
        )
        refused.headers["Retry-After"] = str(retry_after_s)
        return refused
    if not auth.check_login(user, form.get("password", "")):
        # The form is shown again with the same token: its cookie is still set.
        return render(
            request,
            "login.html",
            {"login_csrf": form[CSRF_FIELD], "next": next_path, "error": "Wrong user or password."},
            status_code=401,
        )
    _, cookie = await sessions.start()
    response = see_other(next_path)
    set_session_cookie(response, auth, cookie)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=_LOGIN_PATH)
    return response


@router.post("/logout")
async def logout(session: PageSession, form: CheckedForm, auth: AuthDep, sessions: SessionsDep) -> Response:
    # The header's two buttons: "Log out" ends this session, "Log out everywhere" (everywhere=1) every
    # session of the moderator, on every device.
    if form.get("everywhere") == "1":
        await sessions.end_everywhere(session)
    else:
        await sessions.end(session)
    response = see_other(_LOGIN_PATH)
    clear_session_cookie(response, auth)
    return response
