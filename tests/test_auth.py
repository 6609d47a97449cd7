"""service/auth.py: the admin's login, signed cookies naming server-side sessions, CSRF tokens, the login
limits, and refusing guessable passwords and secrets outside development."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.auth import (
    AdminAuth,
    AuthConfigError,
    Sessions,
    client_key,
    password_problem,
    same_bytes,
    secret_problem,
)
from service.runtime import StartupError
from service.store import MemoryStore, RedisStore
from service.store.base import SessionStore
from service.store.ratelimits import parse_limits
from tests.support.admin import ADMIN_PASSWORD
from tests.support.fakes import FakeClock
from tests.support.redis_server import ThrowawayRedis, delete_keys_under
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

SESSION_SECRET = "R2kC6yq0mT8cXn3vJb5Wf9Lp1Hs7Ge4dZa-Qo_uYiK"  # 43 bytes, random
PRODUCTION = {"ENVIRONMENT": "production", "ADMIN_PASSWORD": ADMIN_PASSWORD, "SESSION_SECRET": SESSION_SECRET}


def _auth(secret: bytes = b"s" * 32, *, max_age_s: int = 600) -> AdminAuth:
    return AdminAuth(
        "admin",
        ADMIN_PASSWORD,
        secret,
        max_age_s=max_age_s,
        secure_cookies=True,
        limits_per_ip=parse_limits("10/minute"),
        limits_per_user=parse_limits("10/minute"),
    )


# -- the cookie ----------------------------------------------------------------------------------------------


def test_the_cookie_names_a_random_id_signed_with_the_secret():
    auth = _auth()
    cookie = auth.cookie_for("i" * 43)
    assert auth.session_id(cookie) == "i" * 43
    session_id, mac = cookie.split(".")
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert auth.session_id(f"{session_id}.{flipped}") is None
    assert auth.session_id(f"{'j' * 43}.{mac}") is None  # another id under this id's signature
    assert _auth(b"t" * 32).session_id(cookie) is None  # another secret
    for odd in (None, "", "no-dot", cookie + "x", "é" * 43 + "." + mac, cookie.replace("i", "\u0456")):
        assert auth.session_id(odd) is None


def test_client_text_is_compared_as_bytes_and_never_raises():
    assert same_bytes("café", "café") and not same_bytes("café", "cafe")
    assert not same_bytes("\ud800", "\ud801") and same_bytes("\ud800", "\ud800")  # lone surrogates (JSON)
    assert not same_bytes(None, "x") and not same_bytes("x", None)
    auth = _auth()
    assert auth.check_login("admin", ADMIN_PASSWORD)
    for user, password in (("admin", ADMIN_PASSWORD + "x"), ("root", ADMIN_PASSWORD), ("admïn", "\ud800")):
        assert not auth.check_login(user, password)


# -- sessions on both stores -----------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "redis"])
def session_store(request: pytest.FixtureRequest) -> SessionStore:
    if request.param == "memory":
        return MemoryStore()
    store: RedisStore = request.getfixturevalue("redis_store")
    return store


@pytest.mark.anyio
async def test_sessions_are_stored_and_end_at_logout(session_store: SessionStore):
    sessions = Sessions(_auth(), session_store)
    session, cookie = await sessions.start()
    assert await sessions.read(cookie) == session and session.user == "admin"
    assert session.key != cookie.split(".")[0]  # the store holds a digest of the id, not the id
    other, other_cookie = await sessions.start()
    assert other.csrf != session.csrf  # CSRF tokens are per session
    await sessions.end(session)
    assert await sessions.read(cookie) is None
    assert await sessions.read(other_cookie) == other  # only that one ended


@pytest.mark.anyio
async def test_logging_out_everywhere_ends_every_session_of_the_user(session_store: SessionStore):
    sessions = Sessions(_auth(), session_store)
    first, first_cookie = await sessions.start()
    _, second_cookie = await sessions.start()
    await sessions.end_everywhere(first)
    assert await sessions.read(first_cookie) is None and await sessions.read(second_cookie) is None
    later, later_cookie = await sessions.start()  # logging in again works
    assert await sessions.read(later_cookie) == later


@pytest.mark.anyio
async def test_sessions_expire_and_refuse_what_the_store_does_not_vouch_for():
    clock = FakeClock(start=1_000_000.0)
    store = MemoryStore(clock=clock)
    sessions = Sessions(_auth(max_age_s=600), store, clock=clock)
    _, cookie = await sessions.start()
    clock.advance(599)
    assert await sessions.read(cookie) is not None
    clock.advance(1)
    assert await sessions.read(cookie) is None
    # A well-signed cookie whose session the store never held (a restart of a memory store, a forged id).
    assert await sessions.read(_auth().cookie_for("k" * 43)) is None


# -- what production refuses -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [None, "", "changeme", "admin", "Password1234", " " * 12, "admin-admin-admin", "Moderation2024!"],
)
def test_production_refuses_missing_or_guessable_passwords(password):
    assert password_problem(password, "admin") is not None
    with pytest.raises(AuthConfigError, match="MODERATION_ADMIN_PASSWORD") as raised:
        AdminAuth.from_settings(make_settings(**{**PRODUCTION, "ADMIN_PASSWORD": password}))
    if password:
        assert "zxcvbn score" in str(raised.value) and password not in str(raised.value)


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (None, "not set"),
        ("s", "1 bytes long; at least 32"),
        ("x7Kq-pL2m-9vRt-x7Kq-pL2m-9vRt-x", "31 bytes long"),
        ("a" * 40, "guessable"),
        (ADMIN_PASSWORD + "-and-some-more-words", None),  # long and random enough: accepted
    ],
)
def test_production_needs_a_random_session_secret_of_32_bytes(secret, says):
    settings = make_settings(**{**PRODUCTION, "SESSION_SECRET": secret})
    if says is None:
        assert AdminAuth.from_settings(settings).secure_cookies
        return
    assert secret_problem("MODERATION_SESSION_SECRET", secret, 32) is not None
    with pytest.raises(AuthConfigError, match="MODERATION_SESSION_SECRET") as raised:
        AdminAuth.from_settings(settings)
    assert says in str(raised.value) and "secrets.token_urlsafe(32)" in str(raised.value)


def test_production_refuses_the_password_as_the_secret():
    long_password = "correct horse battery staple and a violin"
    settings = make_settings(
        **{**PRODUCTION, "ADMIN_PASSWORD": long_password, "SESSION_SECRET": long_password}
    )
    with pytest.raises(AuthConfigError, match="is the admin password"):
        AdminAuth.from_settings(settings)


def test_production_accepts_a_strong_password_and_secret_and_uses_a_host_cookie():
    auth = AdminAuth.from_settings(make_settings(**PRODUCTION))
    assert auth.secure_cookies and auth.cookie_name == "__Host-moderation_session"
    assert auth.check_login("admin", ADMIN_PASSWORD)


def test_unreadable_login_limits_stop_the_start():
    with pytest.raises(AuthConfigError, match="MODERATION_LOGIN_LIMIT_PER_USER"):
        AdminAuth.from_settings(make_settings(ADMIN_PASSWORD=ADMIN_PASSWORD, LOGIN_LIMIT_PER_USER="lots"))


def test_production_app_refuses_to_start_with_a_guessable_password(make_client, caplog):
    with caplog.at_level(logging.CRITICAL, logger="service"), pytest.raises(StartupError) as raised:
        make_client(MarkerScorer(), **{**PRODUCTION, "ADMIN_PASSWORD": "Password1234"})
    assert isinstance(raised.value.__cause__, AuthConfigError)
    assert "cannot start" in caplog.text and "too easy to guess" in caplog.text


def test_development_generates_what_is_unset_and_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        auth = AdminAuth.from_settings(make_settings(ADMIN_PASSWORD=None, SESSION_SECRET=None))
    generated = re.search(r"password '([^']+)'", caplog.text).group(1)
    assert auth.check_login("admin", generated) and not auth.secure_cookies
    assert auth.cookie_name == "moderation_session"  # plain http on localhost: no Secure, so no __Host-
    assert "MODERATION_SESSION_SECRET is unset (development)" in caplog.text
    assert "random secret made for this process" in caplog.text


# -- through the app: the cookie is no function of the password; instances share sessions and limits --------


def _old_cookie_mac(password: str, payload: str) -> str:
    """How the service used to sign a session: HMAC(HMAC(password, constant), payload)."""
    secret = hmac.new(password.encode(), b"moderation session secret v1", hashlib.sha256).hexdigest()
    digest = hmac.new(secret.encode(), payload.encode("ascii", "replace"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@pytest.fixture
def make_instance(redis_url: str, key_prefix: str) -> Iterator[Callable[..., TestClient]]:
    """Started apps of one deployment on the shared test Redis (same prefix), each with its own client."""
    opened: list[TestClient] = []

    def _make(client: tuple[str, int] = ("testclient", 50000), **overrides: object) -> TestClient:
        settings = make_settings(
            REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD, **overrides
        )
        test_client = TestClient(create_app(settings, scorer=MarkerScorer()), client=client)
        test_client.__enter__()
        opened.append(test_client)
        return test_client

    yield _make
    for test_client in opened:
        test_client.__exit__(None, None, None)
    delete_keys_under(redis_url, key_prefix)


def _session_cookie(client: TestClient) -> tuple[str, str]:
    [(name, value)] = [(c.name, c.value) for c in client.cookies.jar if "moderation_session" in c.name]
    return name, value


def test_the_session_cookie_cannot_be_checked_against_a_password_guess(make_instance):
    # Development without MODERATION_SESSION_SECRET used to sign with HMAC(password, constant): anyone with
    # a cookie could test password guesses offline, and every process with the password accepted it.
    first = make_instance(SESSION_SECRET=None)
    assert first.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD}).status_code == 200
    name, cookie = _session_cookie(first)
    payload, _, mac = cookie.rpartition(".")
    assert mac != _old_cookie_mac(ADMIN_PASSWORD, payload)  # the right password does not verify it
    with pytest.raises(ValueError):
        json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # no readable content
    second = make_instance(SESSION_SECRET=None)  # same password, same Redis, its own random secret
    assert second.get("/v1/review", headers={"Cookie": f"{name}={cookie}"}).status_code == 401
    assert first.get("/v1/review").status_code == 200


def test_a_new_secret_signs_everyone_out_with_the_same_password(make_instance):
    before = make_instance(SESSION_SECRET=SESSION_SECRET)
    before.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    name, cookie = _session_cookie(before)
    rotated = make_instance(SESSION_SECRET=SESSION_SECRET[::-1])
    assert rotated.get("/v1/review", headers={"Cookie": f"{name}={cookie}"}).status_code == 401
    assert before.get("/v1/review").status_code == 200


def test_two_instances_on_one_redis_share_sessions_and_login_limits(make_instance):
    limits = {
        "SESSION_SECRET": SESSION_SECRET,
        "LOGIN_LIMIT_PER_IP": "3/minute",
        "LOGIN_LIMIT_PER_USER": "5/minute",
    }
    a = make_instance(**limits)
    b = make_instance(**limits)
    login = a.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    name, cookie = _session_cookie(a)
    assert b.get("/v1/review", headers={"Cookie": f"{name}={cookie}"}).status_code == 200  # a's session, at b
    # b logs it out: a refuses it at once.
    out = b.delete(
        "/v1/session", headers={"Cookie": f"{name}={cookie}", "X-CSRF-Token": login.json()["csrf_token"]}
    )
    assert out.status_code == 204
    assert a.get("/v1/review", headers={"Cookie": f"{name}={cookie}"}).status_code == 401
    # The same address's attempts add up across instances: a had one, b two; the fourth is refused at a.
    wrong = {"user": "admin", "password": "not it"}
    assert [b.post("/v1/session", json=wrong).status_code for _ in range(2)] == [401, 401]
    refused = a.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_login_attempts"
    # The user's attempts add up across addresses too: two more from elsewhere reach its limit of five
    # (a's refused attempt was refused for its address, so it did not count against the user).
    elsewhere = make_instance(client=("203.0.113.7", 41000), **limits)
    assert [elsewhere.post("/v1/session", json=wrong).status_code for _ in range(3)] == [401, 401, 429]
    # A guesser moving on to yet another address gets no further, the right password included.
    v6 = make_instance(client=("2001:db8:1:2::7", 41000), **limits)
    assert v6.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD}).status_code == 429


def test_attempts_are_counted_per_ipv4_address_and_per_ipv6_network():
    assert client_key("203.0.113.7") == "203.0.113.7"
    assert client_key("::ffff:203.0.113.7") == "203.0.113.7"
    # One subscriber holds a whole /64: its addresses count as one client.
    assert client_key("2001:db8:1:2::7") == client_key("2001:db8:1:2:ffff::1") == "2001:db8:1:2::_64"
    assert client_key("2001:db8:1:3::7") != client_key("2001:db8:1:2::7")
    assert client_key(None) == "unknown" and client_key("testclient") == "testclient"


def test_with_redis_gone_logins_are_refused_with_503_not_let_through(make_client):
    # Attempts that cannot be counted are not allowed: the login door closes rather than open to guessing.
    with ThrowawayRedis() as server:
        client = make_client(MarkerScorer(), REDIS_URL=server.url, ADMIN_PASSWORD=ADMIN_PASSWORD)
        assert (
            client.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD}).status_code == 200
        )
        server.stop()
        for password in ("guess", ADMIN_PASSWORD):
            refused = client.post("/v1/session", json={"user": "admin", "password": password})
            assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable"
        assert client.get("/v1/review").status_code == 503  # nor can the session be read
        assert client.get("/dashboard/login").status_code == 503


def test_one_address_hammering_cannot_lock_the_moderator_out(make_instance, caplog):
    limits = {"LOGIN_LIMIT_PER_IP": "3/minute", "LOGIN_LIMIT_PER_USER": "5/minute"}
    guesser = make_instance(client=("198.51.100.9", 40000), **limits)
    moderator = make_instance(client=("192.0.2.20", 40000), **limits)
    with caplog.at_level(logging.DEBUG, logger="service.auth"):
        statuses = [
            guesser.post("/v1/session", json={"user": "admin", "password": f"g{i}"}).status_code
            for i in range(20)
        ]
    assert statuses == [401] * 3 + [429] * 17
    # One warning for the lockout, not one per refused request.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.getMessage()]
    assert len(warnings) == 1 and "198.51.100.9" in warnings[0].getMessage()
    # The moderator, from another address, still gets in: the guesser used only 3 of the user's 5.
    assert (
        moderator.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD}).status_code == 200
    )
