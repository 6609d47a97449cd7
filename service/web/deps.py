"""The dashboard's request dependencies, as Annotated aliases: a page's signature says what it needs.

    CurrentSession  the moderator's session, or None (the login page, which must not demand one)
    PageSession     the moderator's session, or LoginRequired (a redirect to the login, coming back after)
    CheckedForm     a state-changing form's fields, once its CSRF token matches the session's
    LoginForm       the login form's fields, once its double-submit token matches the login cookie

What pages share with the JSON API (settings, pipeline, decision log, auth) comes from service/api/deps.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.api.deps import AuthDep, SessionsDep
from service.auth import CSRF_FIELD, LOGIN_CSRF_COOKIE, AdminAuth, Session, same_bytes
from service.web.errors import CsrfRefused, LoginRequired


async def _current_session(request: Request, auth: AuthDep, sessions: SessionsDep) -> Session | None:
    return await sessions.read(request.cookies.get(auth.cookie_name))


CurrentSession = Annotated[Session | None, Depends(_current_session)]


def _page_session(request: Request, session: CurrentSession) -> Session:
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # After the login a GET comes back to where it was; a form cannot be re-posted, so its sender
        # lands on the overview instead.
        raise LoginRequired(target if request.method == "GET" else "/dashboard")
    return session


PageSession = Annotated[Session, Depends(_page_session)]


async def _form_fields(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def _checked_form(request: Request, session: PageSession) -> dict[str, str]:
    values = await _form_fields(request)
    if not AdminAuth.csrf_ok(session, values.get(CSRF_FIELD)):
        raise CsrfRefused()
    return values


CheckedForm = Annotated[dict[str, str], Depends(_checked_form)]


async def _login_form(request: Request) -> dict[str, str]:
    # Before the login there is no session to hold a token: the form must echo the login page's cookie.
    values = await _form_fields(request)
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    form_token = values.get(CSRF_FIELD) or ""
    # As bytes: a token with non-ASCII characters is refused like any other wrong one (it used to be a 500).
    if not cookie_token or not same_bytes(cookie_token, form_token):
        raise CsrfRefused()
    return values


LoginForm = Annotated[dict[str, str], Depends(_login_form)]
