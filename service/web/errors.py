"""What the dashboard answers when a page cannot be served as asked; browsers get pages, not JSON envelopes.

    LoginRequired   no valid session              → 303 to /dashboard/login?next=<where the moderator was>
    CsrfRefused     a form without its CSRF token  → 403, a short page that says so

Everything else (a store that is down, a bug) falls through to the JSON API's handlers in service/api/errors.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response


class LoginRequired(Exception):
    """There is no valid session; answered with a redirect to the login, which comes back to `next_path`."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A state-changing form without the session's CSRF token (a forged or stale post)."""


def _login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/dashboard/login?{urlencode({'next': exc.next_path})}", status_code=303)


def _csrf_refused(request: Request, exc: Exception) -> Response:
    return HTMLResponse(
        "<!doctype html><title>Refused</title><p>This form was refused: its security token is missing or "
        'stale. <a href="/dashboard">Reload the dashboard</a> and try again.</p>',
        status_code=403,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _login_redirect)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
