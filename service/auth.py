"""Moderator login: one account from Settings, rate-limited attempts, server-side sessions, CSRF tokens.

- Attempts: every login attempt, right or wrong, counts against moving windows per client address and per
  user name tried (LOGIN_LIMIT_PER_IP, LOGIN_LIMIT_PER_USER; `LoginLimiter`, kept in Redis so every worker
  and instance counts together). Past either, the answer is 429 with Retry-After and the password is not
  even compared, so the right one is refused too until a slot frees: a lockout that let the right password
  through would still answer every guess. Counting successes too keeps the check atomic (no burst of
  parallel requests can slip past a "test, then count failures" gap). An attempt refused for its address
  is not counted against the user, so one address cannot lock the moderator out.
- Sessions: a login stores a session server side (`Sessions` on the store: Redis, or memory without it) for
  SESSION_MAX_AGE_S, under the SHA-256 of a random 256-bit id; the cookie carries that id and an
  HMAC-SHA256 of it under MODERATION_SESSION_SECRET, so a forged cookie is refused before the store is asked
  and a copy of Redis holds no usable cookie. Logout deletes the session at once; "log out everywhere" (the
  dashboard's button, DELETE /v1/session?everywhere=true) raises the user's session epoch, which ends every
  session started before it in one atomic step.
- The secret is random per deployment, never derived from the password (a cookie once was HMAC(password,
  constant): one captured cookie allowed offline guessing of the password). It is required outside
  development (at least SECRET_MIN_BYTES bytes); in development an unset one is generated per process, and
  the log says so. A new secret signs everyone out; the password never needs to change for that.
- The cookie (HttpOnly, SameSite=Strict) is `__Host-moderation_session` outside development: Secure, Path=/,
  no Domain, so browsers refuse it over http and from any other host, sub-domains included. Development
  serves plain http on localhost, where a Secure cookie is not sent back by every client (curl, httpx, the
  tests; some browsers) and `__Host-` demands Secure, so there it is `moderation_session`, not Secure.
- CSRF: every state-changing request made with the session must carry the session's token: the dashboard's
  forms as a hidden `csrf_token` field, the JSON admin API as an `X-CSRF-Token` header. The login form,
  which comes before any session, uses a double-submit token (a cookie of its own plus the same value in
  the form). SameSite=Strict already keeps other sites' requests from carrying the cookies; the tokens also
  cover browsers and setups where it does not.
- Every value a client sends (user, password, cookie, token) is compared as bytes in constant time
  (`same_bytes`): text that is not ASCII, or not even encodable, is simply not equal, never an error.
- Outside development the service refuses to start with a guessable admin password (zxcvbn score below
  ADMIN_PASSWORD_MIN_SCORE, not a length rule: "Password1234" and twelve spaces are long and guessable) or
  a missing, short or guessable session secret; each refusal is an `AuthConfigError` naming its remedy.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from zxcvbn import zxcvbn  # type: ignore[import-untyped]

from service.config import Settings
from service.store.base import SessionStore
from service.store.ratelimits import RateLimitItem, RateLimits, describe, parse_limits

log = logging.getLogger(__name__)

SESSION_COOKIE = "moderation_session"
#: The session cookie's name where cookies are Secure (outside development); see the module docstring.
SECURE_SESSION_COOKIE = "__Host-moderation_session"
LOGIN_CSRF_COOKIE = "moderation_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"

#: zxcvbn refuses longer input; the first 72 characters being strong is enough for the whole to be.
_ZXCVBN_MAX_CHARS = 72
#: What a guesser tries first for this service besides the user name: zxcvbn counts them as known words.
_SITE_WORDS = ("moderation", "moderator", "comment", "comments", "dashboard", "admin", "password", "secret")
_SCORE_NAMES = (
    "too guessable",
    "very guessable",
    "somewhat guessable",
    "safely unguessable",
    "very unguessable",
)
_SECRET_HINT = "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"

# A session id (32 random bytes) and its HMAC-SHA256, each base64url without padding: 43 characters.
_COOKIE = re.compile(r"([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})", re.ASCII)


class AuthConfigError(Exception):
    """The login settings are unusable here (production with a guessable password or secret, limits that
    cannot be read)."""


@dataclass(frozen=True)
class Session:
    user: str
    expires: int
    csrf: str
    #: The store's name for this session: the SHA-256 of the cookie's id, never the id itself.
    key: str


def same_bytes(a: str | None, b: str | None) -> bool:
    """Whether two client-sent strings are equal, in constant time for equal lengths, as UTF-8 bytes.

    `hmac.compare_digest` refuses str with non-ASCII characters (TypeError: a 500 from a cookie) and
    `str.encode` refuses lone surrogates (which JSON's \\ud800 escapes produce); "surrogatepass" encodes
    every str, and distinct strings to distinct bytes."""
    if a is None or b is None:
        return False
    return hmac.compare_digest(_utf8(a), _utf8(b))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _strength(text: str, user_inputs: tuple[str, ...] = ()) -> tuple[int, str]:
    """zxcvbn's score (0-4) of `text` and its warning ("" when it has none)."""
    result: dict[str, Any] = zxcvbn(text[:_ZXCVBN_MAX_CHARS], user_inputs=[*user_inputs, *_SITE_WORDS])
    feedback = result.get("feedback") or {}
    return int(result["score"]), str(feedback.get("warning") or "")


def password_problem(password: str | None, user: str, min_score: int = 3) -> str | None:
    """Why `password` is unfit for a production login, or None when it is fine."""
    if not password:
        return "MODERATION_ADMIN_PASSWORD is not set"
    score, warning = _strength(password, (user,))
    if score < min_score:
        why = f": {warning.rstrip('.')}" if warning else ""
        return (
            f"MODERATION_ADMIN_PASSWORD is too easy to guess (zxcvbn score {score} of 4, "
            f"{_SCORE_NAMES[score]}{why}; at least {min_score} is needed)"
        )
    return None


def secret_problem(name: str, secret: str | None, min_bytes: int, min_score: int = 3) -> str | None:
    """Why `secret` (the variable `name`) is unfit outside development, or None when it is fine."""
    if not secret:
        return f"{name} is not set"
    size = len(_utf8(secret))
    if size < min_bytes:
        return f"{name} is {size} bytes long; at least {min_bytes} are needed"
    score, warning = _strength(secret)
    if score < min_score:
        why = f": {warning.rstrip('.')}" if warning else ""
        return f"{name} is long enough but guessable (zxcvbn score {score} of 4{why})"
    return None


class AdminAuth:
    """The account, the cookie's signing and the login limits, as Settings give them (no I/O)."""

    def __init__(
        self,
        user: str,
        password: str,
        secret: bytes,
        *,
        max_age_s: int,
        secure_cookies: bool,
        limits_per_ip: list[RateLimitItem],
        limits_per_user: list[RateLimitItem],
    ) -> None:
        self.user = user
        self._password = password
        # Derived, so that a secret shared with anything else (it should not be) signs nothing else alike.
        self._key = hmac.new(secret, b"moderation session cookie v2", hashlib.sha256).digest()
        self.max_age_s = max_age_s
        self.secure_cookies = secure_cookies
        self.cookie_name = SECURE_SESSION_COOKIE if secure_cookies else SESSION_COOKIE
        self.limits_per_ip = limits_per_ip
        self.limits_per_user = limits_per_user

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminAuth:
        """The login of `settings`; raises AuthConfigError where it may not run (see password_problem,
        secret_problem)."""
        development = settings.ENVIRONMENT == "development"
        limits_per_ip = _read_limits("MODERATION_LOGIN_LIMIT_PER_IP", settings.LOGIN_LIMIT_PER_IP)
        limits_per_user = _read_limits("MODERATION_LOGIN_LIMIT_PER_USER", settings.LOGIN_LIMIT_PER_USER)
        password = settings.ADMIN_PASSWORD
        problem = password_problem(password, settings.ADMIN_USER, settings.ADMIN_PASSWORD_MIN_SCORE)
        if problem and not development:
            raise AuthConfigError(
                f"{problem}. The dashboard and the review API need a password that cannot be guessed outside "
                f"development: a passphrase of four or five random words, or a generated one such as "
                f"`python -c 'import secrets; print(secrets.token_urlsafe(18))'`, in MODERATION_ADMIN_PASSWORD."
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
        secret = settings.SESSION_SECRET
        secret_issue = secret_problem("MODERATION_SESSION_SECRET", secret, settings.SECRET_MIN_BYTES)
        if secret and secrets.compare_digest(_utf8(secret), _utf8(password)):
            secret_issue = "MODERATION_SESSION_SECRET is the admin password"
        if secret_issue and not development:
            raise AuthConfigError(
                f"{secret_issue}. Outside development session cookies are signed with a random secret of "
                f"at least {settings.SECRET_MIN_BYTES} bytes, the same for every worker and instance of the "
                f"deployment: generate one with {_SECRET_HINT} and set MODERATION_SESSION_SECRET "
                f"(a new one later signs everyone out)."
            )
        if not secret:
            log.warning(
                "MODERATION_SESSION_SECRET is unset (development): sessions are signed with a random secret "
                "made for this process, so they end when it restarts and other workers refuse its cookies"
            )
            key = secrets.token_bytes(32)
        else:
            if secret_issue:
                log.warning("%s; accepted only because MODERATION_ENVIRONMENT=development", secret_issue)
            key = _utf8(secret)
        return cls(
            settings.ADMIN_USER,
            password,
            key,
            max_age_s=settings.SESSION_MAX_AGE_S,
            secure_cookies=not development,
            limits_per_ip=limits_per_ip,
            limits_per_user=limits_per_user,
        )

    def check_login(self, user: str, password: str) -> bool:
        # Both compared in constant time, and both always compared, so timing tells nothing about either.
        user_ok = same_bytes(user, self.user)
        password_ok = same_bytes(password, self._password)
        return user_ok & password_ok

    def cookie_for(self, session_id: str) -> str:
        """The cookie value carrying `session_id`."""
        return f"{session_id}.{self._mac(session_id)}"

    def session_id(self, cookie: str | None) -> str | None:
        """The session id a cookie value carries, or None when it is absent, malformed or not signed by us."""
        found = _COOKIE.fullmatch(cookie) if cookie else None
        if found is None:
            return None
        session_id, mac = found.groups()
        return session_id if hmac.compare_digest(_utf8(mac), _utf8(self._mac(session_id))) else None

    @staticmethod
    def csrf_ok(session: Session, token: str | None) -> bool:
        return bool(token) and same_bytes(session.csrf, token)

    def _mac(self, session_id: str) -> str:
        return _b64(hmac.new(self._key, _utf8(session_id), hashlib.sha256).digest())


def _read_limits(name: str, value: str) -> list[RateLimitItem]:
    try:
        return parse_limits(value)
    except ValueError:
        raise AuthConfigError(
            f"{name} is {value!r}, which is not a rate limit: write one or more as `N/unit` (second, minute, "
            f"hour, day) separated by ';', e.g. '10/minute;60/hour', or unset it for the default"
        ) from None


def session_key(session_id: str) -> str:
    """The store's name for a session: SHA-256 (hex) of its id, so the store holds no usable cookie."""
    return hashlib.sha256(_utf8(session_id)).hexdigest()


class Sessions:
    """Moderators' sessions, stored server side so that a logout ends them at once."""

    def __init__(
        self, auth: AdminAuth, store: SessionStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.auth = auth
        self._store = store
        self._clock = clock

    async def start(self) -> tuple[Session, str]:
        """A fresh session for the admin and its cookie value. Raises StoreUnavailable."""
        session_id = secrets.token_urlsafe(32)
        epoch = await self._store.session_epoch(self.auth.user)
        session = Session(
            self.auth.user,
            int(self._clock()) + self.auth.max_age_s,
            secrets.token_urlsafe(32),
            session_key(session_id),
        )
        fields = {
            "user": session.user,
            "csrf": session.csrf,
            "expires": str(session.expires),
            "epoch": str(epoch),
        }
        await self._store.put_session(session.key, fields, ttl_s=self.auth.max_age_s)
        return session, self.auth.cookie_for(session_id)

    async def read(self, cookie: str | None) -> Session | None:
        """The live session a cookie value names, or None when it is absent, forged, malformed, ended or
        expired. Raises StoreUnavailable."""
        session_id = self.auth.session_id(cookie)
        if session_id is None:
            return None
        key = session_key(session_id)
        fields = await self._store.get_session(key)
        if fields is None:
            return None
        try:
            session = Session(fields["user"], int(fields["expires"]), fields["csrf"], key)
            epoch = int(fields["epoch"])
        except (KeyError, ValueError):
            return None
        # Another admin user since (ADMIN_USER changed), or past its time though the store still held it.
        if session.user != self.auth.user or session.expires <= self._clock():
            return None
        if epoch != await self._store.session_epoch(session.user):
            return None  # the user logged out everywhere since
        return session

    async def end(self, session: Session) -> None:
        """Log out: the session's cookie is refused from now on, by every worker."""
        await self._store.delete_session(session.key)

    async def end_everywhere(self, session: Session) -> None:
        """Log the session's user out of every session, this one included."""
        await self._store.next_session_epoch(session.user)
        await self._store.delete_session(session.key)


def client_key(host: str | None) -> str:
    """Who a login attempt comes from, for its rate limit: the IPv4 address, or the IPv6 /64 network (one
    subscriber usually holds a whole /64, so counting single v6 addresses would count nothing)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]  # not an address (a unix socket's peer, the test client): counted as given
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network(f"{address}/64", strict=False)
        return f"{network.network_address}_64"  # "/" separates the parts of a `limits` key
    return str(address)


def user_key(user: str) -> str:
    """A user name tried, for its rate limit: hashed, as it is whatever the client sent (any length, any
    characters)."""
    return hashlib.sha256(_utf8(user)).hexdigest()[:32]


class LoginLimiter:
    """Login attempts per client address and per user name, in moving windows shared through the store.

    The address's windows are asked first and the first refusal ends the count, so an attempt refused for
    its address does not count against the user: one address hammering away cannot lock the moderator out
    (it uses up at most its own limit's worth of the user's attempts, which LOGIN_LIMIT_PER_IP keeps below
    LOGIN_LIMIT_PER_USER). A refused attempt is not counted in the window that refused it, so knocking on
    during a lockout does not lengthen it; Retry-After is the time until every full window has room again."""

    #: Bound on the addresses remembered for quieting the log (forgetting one only logs it again).
    _QUIET_MAX = 10_000

    def __init__(
        self,
        limits: RateLimits,
        *,
        per_ip: list[RateLimitItem],
        per_user: list[RateLimitItem],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = limits
        self._per_ip, self._per_user = per_ip, per_user
        self._clock = clock
        # Address -> until when its refusals are logged at DEBUG only: a lockout is one warning, not one
        # line per refused request (a guesser would otherwise write the log at hundreds of lines a second).
        self._quiet_until: dict[str, float] = {}

    @classmethod
    def from_settings(cls, settings: Settings, auth: AdminAuth) -> LoginLimiter:
        """Limits in Redis at REDIS_URL under the deployment's prefix, or in process memory."""
        return cls(
            RateLimits.open(settings.REDIS_URL, prefix=settings.REDIS_PREFIX),
            per_ip=auth.limits_per_ip,
            per_user=auth.limits_per_user,
        )

    async def attempt(self, client: str | None, user: str) -> int | None:
        """Count one login attempt from `client` (its address) as `user`: None when it may go on to the
        password check, else the seconds until the next attempt is allowed. Raises StoreUnavailable."""
        address = client_key(client)
        windows = [(item, "ip", address) for item in self._per_ip]
        windows += [(item, "user", user_key(user)) for item in self._per_user]
        for item, scope, who in windows:
            if not await self._limits.hit(item, "login", scope, who):
                break
        else:
            return None
        # Every full window must have room again, not only the one that refused.
        full = [
            (item, await self._limits.retry_after_s(item, "login", scope, who))
            for item, scope, who in windows
        ]
        wait = max([1, *(seconds for _, seconds in full)])
        self._log_refusal(address, wait, [item for item, seconds in full if seconds > 0])
        return wait

    def _log_refusal(self, address: str, wait: int, full: list[RateLimitItem]) -> None:
        now = self._clock()
        quiet = self._quiet_until.get(address, 0.0) > now
        log.log(
            logging.DEBUG if quiet else logging.WARNING,
            "login attempts from %s refused for %d s: the limit of %s is reached%s",
            address,
            wait,
            describe(full) or "the login attempts",
            "" if quiet else " (further refusals until then are logged at DEBUG)",
        )
        if not quiet:
            if len(self._quiet_until) >= self._QUIET_MAX:
                self._quiet_until.clear()
            self._quiet_until[address] = now + wait

    async def aclose(self) -> None:
        await self._limits.aclose()
