"""service/auth.py: the admin's login, signed session cookies, CSRF tokens, and refusing unfit passwords."""

from __future__ import annotations

import logging
import re

import pytest

from service.auth import AdminAuth, AuthConfigError, password_problem
from service.runtime import StartupError
from tests.support.admin import ADMIN_PASSWORD
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _auth(clock: Clock | None = None) -> AdminAuth:
    return AdminAuth(
        "admin", ADMIN_PASSWORD, "s" * 32, max_age_s=600, secure_cookies=True, clock=clock or Clock()
    )


def test_session_cookie_round_trips_and_refuses_tampering():
    clock = Clock()
    auth = _auth(clock)
    session, cookie = auth.new_session()
    assert auth.read_session(cookie) == session
    payload, mac = cookie.rsplit(".", 1)
    assert auth.read_session(payload + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")) is None
    forged_payload = payload[:-2] + ("xx" if payload[-2:] != "xx" else "yy")
    assert auth.read_session(f"{forged_payload}.{mac}") is None
    other = AdminAuth("admin", ADMIN_PASSWORD, "t" * 32, max_age_s=600, secure_cookies=True, clock=clock)
    assert other.read_session(cookie) is None  # another secret
    assert auth.read_session("") is None and auth.read_session("no-dot") is None
    clock.now += 601
    assert auth.read_session(cookie) is None  # expired


def test_csrf_and_login_checks():
    auth = _auth()
    session, _ = auth.new_session()
    assert auth.csrf_ok(session, session.csrf)
    assert (
        not auth.csrf_ok(session, None) and not auth.csrf_ok(session, "") and not auth.csrf_ok(session, "x")
    )
    assert auth.check_login("admin", ADMIN_PASSWORD)
    assert not auth.check_login("admin", ADMIN_PASSWORD + "x") and not auth.check_login(
        "root", ADMIN_PASSWORD
    )


@pytest.mark.parametrize("password", [None, "", "changeme", "Password", "admin", "short-pass1"])
def test_production_refuses_missing_or_placeholder_passwords(password):
    assert password_problem(password, "admin") is not None
    settings = make_settings(ENVIRONMENT="production", ADMIN_PASSWORD=password)
    with pytest.raises(AuthConfigError, match="MODERATION_ADMIN_PASSWORD"):
        AdminAuth.from_settings(settings)


def test_production_accepts_a_real_password_and_sets_secure_cookies():
    auth = AdminAuth.from_settings(make_settings(ENVIRONMENT="production", ADMIN_PASSWORD=ADMIN_PASSWORD))
    assert auth.secure_cookies and auth.check_login("admin", ADMIN_PASSWORD)


def test_production_app_refuses_to_start_without_a_password(make_client, caplog):
    with caplog.at_level(logging.CRITICAL, logger="service"), pytest.raises(StartupError) as raised:
        make_client(MarkerScorer(), ENVIRONMENT="production", ADMIN_PASSWORD="changeme")
    assert isinstance(raised.value.__cause__, AuthConfigError)
    assert "cannot start" in caplog.text and "placeholder" in caplog.text


def test_development_without_a_password_generates_one_and_says_it(caplog):
    with caplog.at_level(logging.WARNING):
        auth = AdminAuth.from_settings(make_settings(ADMIN_PASSWORD=None))
    generated = re.search(r"password '([^']+)'", caplog.text).group(1)
    assert auth.check_login("admin", generated) and not auth.secure_cookies


def test_session_secret_derives_from_the_password():
    a = AdminAuth.from_settings(make_settings(ADMIN_PASSWORD=ADMIN_PASSWORD))
    b = AdminAuth.from_settings(make_settings(ADMIN_PASSWORD=ADMIN_PASSWORD))
    c = AdminAuth.from_settings(make_settings(ADMIN_PASSWORD=ADMIN_PASSWORD + "-new"))
    _, cookie = a.new_session()
    assert b.read_session(cookie) is not None  # another worker with the same settings
    assert c.read_session(cookie) is None  # a new password signs everyone out
