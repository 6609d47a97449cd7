"""Moderator login: one account from Settings, a signed session cookie, and CSRF tokens.

- The session is a cookie (`moderation_session`; HttpOnly, SameSite=Strict, Secure outside development)
  holding `base64url(JSON {user, expires, csrf}) "." base64url(HMAC-SHA256(secret, that))`; nothing is stored
  server side, so every worker accepts it and it ends when it expires or the secret changes.
- The secret is MODERATION_SESSION_SECRET or, unset, an HMAC of the admin password: all workers derive the
  same one, and a new password signs everyone out.
- CSRF: every state-changing request made with the session must carry the session's token: the dashboard's
  forms as a hidden `csrf_token` field, the JSON admin API as an `X-CSRF-Token` header. The login form,
  which comes before any session, uses a double-submit token (a cookie of its own plus the same value in
  the form). SameSite=Strict already keeps other sites' requests from carrying the cookies; the tokens also
  cover browsers and setups where it does not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from service.config import Settings

log = logging.getLogger(__name__)

SESSION_COOKIE = "moderation_session"
LOGIN_CSRF_COOKIE = "moderation_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
MIN_PASSWORD_CHARS = 12
PLACEHOLDER_PASSWORDS = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "admin",
        "password",
        "secret",
        "moderation",
        "moderator",
        "letmein",
    }
)


class AuthConfigError(Exception):
    """The admin credentials in Settings are unusable here (production with a missing or placeholder password)."""


@dataclass(frozen=True)
class Session:
    user: str
    expires: int
    csrf: str


def password_problem(password: str | None, user: str) -> str | None:
    """Why `password` is unfit for a production login, or None when it is fine."""
    if not password:
        return "MODERATION_ADMIN_PASSWORD is not set"
    lowered = password.strip().lower()
    if lowered in PLACEHOLDER_PASSWORDS or lowered == user.strip().lower():
        return "MODERATION_ADMIN_PASSWORD is a placeholder"
    if len(password) < MIN_PASSWORD_CHARS:
        return f"MODERATION_ADMIN_PASSWORD is shorter than {MIN_PASSWORD_CHARS} characters"
    return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AdminAuth:
    def __init__(
        self,
        user: str,
        password: str,
        secret: str,
        *,
        max_age_s: int,
        secure_cookies: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.user = user
        self._password = password
        self._key = secret.encode("utf-8")
        self.max_age_s = max_age_s
        self.secure_cookies = secure_cookies
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminAuth:
        """The login of `settings`; raises AuthConfigError where it may not run (see password_problem)."""
        password = settings.ADMIN_PASSWORD
        development = settings.ENVIRONMENT == "development"
        problem = password_problem(password, settings.ADMIN_USER)
        if problem and not development:
            raise AuthConfigError(
                f"{problem}; the dashboard and the review API need a real password outside development. "
                f"Set MODERATION_ADMIN_PASSWORD to at least {MIN_PASSWORD_CHARS} characters "
                f"(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(18))'`)."
            )
        if not password:
            password = secrets.token_urlsafe(12)
            log.warning(
                "MODERATION_ADMIN_PASSWORD is unset (development): dashboard login for this run is "
                "user %r, password %r",
                settings.ADMIN_USER,
                password,
            )
        elif problem:
            log.warning("%s; accepted only because MODERATION_ENVIRONMENT=development", problem)
        secret = (
            settings.SESSION_SECRET
            or hmac.new(password.encode("utf-8"), b"moderation session secret v1", hashlib.sha256).hexdigest()
        )
        return cls(
            settings.ADMIN_USER,
            password,
            secret,
            max_age_s=settings.SESSION_MAX_AGE_S,
            secure_cookies=not development,
        )

    def check_login(self, user: str, password: str) -> bool:
        # Both compared in constant time, and both always compared, so timing tells nothing about either.
        user_ok = hmac.compare_digest(user.encode("utf-8"), self.user.encode("utf-8"))
        password_ok = hmac.compare_digest(password.encode("utf-8"), self._password.encode("utf-8"))
        return user_ok & password_ok

    def new_session(self) -> tuple[Session, str]:
        """A fresh session for the admin and its cookie value."""
        session = Session(self.user, int(self._clock()) + self.max_age_s, secrets.token_urlsafe(24))
        payload = _b64(
            json.dumps({"u": session.user, "e": session.expires, "c": session.csrf}).encode("utf-8")
        )
        return session, f"{payload}.{self._mac(payload)}"

    def read_session(self, cookie: str | None) -> Session | None:
        """The session in a cookie value, or None when it is absent, forged, malformed or expired."""
        if not cookie or "." not in cookie:
            return None
        payload, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["u"]), int(data["e"]), str(data["c"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= self._clock() or session.user != self.user:
            return None
        return session

    @staticmethod
    def csrf_ok(session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(session.csrf.encode("utf-8"), str(token).encode("utf-8"))

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii", "replace"), hashlib.sha256).digest())
