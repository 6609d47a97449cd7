"""Flash messages: a form's outcome, said once on the page the form returns to.

The message travels in a cookie the service signs (`moderation_flash`: HttpOnly, SameSite=Strict, path
/dashboard, a minute long, deleted by the page that shows it), never in the URL: a link such as
`/dashboard?flash=...` cannot put its own words on the dashboard as if the service said them, and a cookie
set by a neighbouring subdomain fails the signature. The key is derived from MODERATION_SESSION_SECRET, so
every worker of a deployment reads its neighbours' messages; without one each app makes its own (a message
shown by another process is then simply not shown).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from fastapi import Request
from starlette.responses import Response

FLASH_COOKIE = "moderation_flash"
_PATH = "/dashboard"
# Long enough for the redirect it rides on, short enough that an unread message does not turn up later.
_MAX_AGE_S = 60
_KINDS = ("", "error")


@dataclass(frozen=True)
class Flash:
    message: str
    kind: str  # "" (done) or "error"


def _key(request: Request) -> bytes:
    state = request.app.state
    key: bytes | None = getattr(state, "flash_key", None)
    if key is None:
        secret = state.settings.SESSION_SECRET
        key = (
            hmac.new(secret.encode("utf-8"), b"moderation flash v1", hashlib.sha256).digest()
            if secret
            else secrets.token_bytes(32)
        )
        state.flash_key = key
    return key


def _mac(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def set_flash(request: Request, response: Response, message: str, kind: str = "") -> None:
    """Have the next dashboard page `response` leads to show `message` (`kind` "error" shows it as one)."""
    data = {"m": message, "k": kind if kind in _KINDS else "", "e": int(time.time()) + _MAX_AGE_S}
    payload = base64.urlsafe_b64encode(json.dumps(data).encode("utf-8")).rstrip(b"=").decode("ascii")
    response.set_cookie(
        FLASH_COOKIE,
        f"{payload}.{_mac(_key(request), payload)}",
        max_age=_MAX_AGE_S,
        path=_PATH,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.ENVIRONMENT != "development",
    )


def read_flash(request: Request) -> Flash | None:
    """The message the service left for this page, if any (an unsigned, forged or expired one is none)."""
    cookie = request.cookies.get(FLASH_COOKIE)
    if cookie is None:
        return None
    payload, _, mac = cookie.rpartition(".")
    # Compared as bytes: a cookie may hold any character, and compare_digest refuses non-ASCII text.
    expected = _mac(_key(request), payload) if payload.isascii() else ""
    if not expected or not hmac.compare_digest(mac.encode("utf-8", "replace"), expected.encode("ascii")):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        flash = Flash(str(data["m"]), str(data["k"]) if data["k"] in _KINDS else "")
        expires = int(data["e"])
    except (ValueError, KeyError, TypeError):
        return None
    return flash if expires > time.time() else None


def clear_flash(request: Request, response: Response) -> None:
    """Have `response` delete the message `request` carried, so that it shows once."""
    if FLASH_COOKIE in request.cookies:
        response.delete_cookie(FLASH_COOKIE, path=_PATH)
