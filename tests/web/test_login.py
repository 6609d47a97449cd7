"""service/web/login.py: the dashboard's login form (double-submit CSRF), its session cookie, its attempt
limits, and the logout (this session, or everywhere)."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.support.admin import ADMIN_PASSWORD, csrf_token, dashboard_login, login_form_token
from tests.support.scorers import MarkerScorer


def test_login_sets_a_strict_httponly_session_cookie(app):
    response = dashboard_login(app)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/review"
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "moderation_session=" in v
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert app.get("/dashboard", follow_redirects=False).status_code == 200


def test_login_form_needs_its_csrf_token(app):
    login_form_token(app)
    forged = app.post(
        "/dashboard/login",
        data={"csrf_token": "forged", "user": "admin", "password": ADMIN_PASSWORD},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert app.get("/dashboard", follow_redirects=False).status_code == 303


def test_wrong_password_is_refused(app):
    token = login_form_token(app)
    response = app.post("/dashboard/login", data={"csrf_token": token, "user": "admin", "password": "nope"})
    assert response.status_code == 401 and "Wrong user or password" in response.text
    assert csrf_token(response.text) == token  # the form shown again still matches its cookie


def test_login_never_redirects_off_site(app):
    token = login_form_token(app)
    response = app.post(
        "/dashboard/login",
        data={
            "csrf_token": token,
            "user": "admin",
            "password": ADMIN_PASSWORD,
            "next": "//evil.example/dashboard",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/dashboard"


def test_the_login_page_sends_a_logged_in_moderator_on(app):
    dashboard_login(app)
    response = app.get("/dashboard/login?next=/dashboard/rejections", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/rejections"
    elsewhere = app.get("/dashboard/login?next=https://evil.example/", follow_redirects=False)
    assert elsewhere.headers["location"] == "/dashboard"


def _session_cookie(client: TestClient) -> str:
    return next(c.value for c in client.cookies.jar if c.name == "moderation_session")


def _with_session(cookie: str) -> dict[str, str]:
    return {"Cookie": f"moderation_session={cookie}"}


def test_logout_ends_the_session_server_side(app):
    dashboard_login(app)
    cookie = _session_cookie(app)
    token = csrf_token(app.get("/dashboard").text)
    response = app.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    assert app.get("/dashboard", follow_redirects=False).status_code == 303
    # A copy of the cookie taken before the logout (another tab, a thief) is refused too.
    replayed = app.get("/dashboard", headers=_with_session(cookie), follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/dashboard/login")
    assert app.get("/v1/review", headers=_with_session(cookie)).status_code == 401


def test_log_out_everywhere_ends_every_session_of_the_moderator(app):
    dashboard_login(app)
    laptop = _session_cookie(app)
    app.cookies.clear()
    dashboard_login(app)
    phone = _session_cookie(app)
    page = app.get("/dashboard", headers=_with_session(phone))
    assert "Log out everywhere" in page.text
    token = csrf_token(page.text)
    response = app.post(
        "/dashboard/logout",
        data={"csrf_token": token, "everywhere": "1"},
        headers=_with_session(phone),
        follow_redirects=False,
    )
    assert response.status_code == 303
    for cookie in (laptop, phone):
        assert app.get("/dashboard", headers=_with_session(cookie), follow_redirects=False).status_code == 303


def _attempt(client: TestClient, token: str, password: str):
    return client.post(
        "/dashboard/login",
        data={"csrf_token": token, "user": "admin", "password": password},
        follow_redirects=False,
    )


def test_brute_force_gets_429_and_the_right_password_waits_too(make_client):
    app = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD, LOGIN_LIMIT_PER_IP="3/minute")
    token = login_form_token(app)
    assert [_attempt(app, token, f"guess-{i}").status_code for i in range(3)] == [401, 401, 401]
    refused = _attempt(app, token, ADMIN_PASSWORD)
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["content-type"].startswith("text/html")
    assert "Too many login attempts" in refused.text and csrf_token(refused.text) == token
    assert "set-cookie" not in refused.headers
    assert app.get("/dashboard", follow_redirects=False).status_code == 303


def test_the_lockout_ends_when_retry_after_has_passed(make_client):
    # A one-second window, so that waiting it out stays short.
    app = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD, LOGIN_LIMIT_PER_IP="2/second")
    token = login_form_token(app)
    _attempt(app, token, "guess-1"), _attempt(app, token, "guess-2")
    refused = _attempt(app, token, ADMIN_PASSWORD)
    assert refused.status_code == 429
    time.sleep(int(refused.headers["retry-after"]) + 0.05)
    assert _attempt(app, token, ADMIN_PASSWORD).status_code == 303


@pytest.mark.parametrize("odd", ["café", "\u2603\u202e", "x" * 4000])
def test_odd_cookies_and_tokens_are_refused_not_500(app, odd):
    raw = odd.encode("utf-8")
    # A session cookie that is not ours: the login page is shown, pages send there.
    page = app.get("/dashboard/login", headers={"Cookie": b"moderation_session=" + raw})
    assert page.status_code == 200
    pages = app.get("/dashboard", headers={"Cookie": b"moderation_session=" + raw}, follow_redirects=False)
    assert pages.status_code == 303
    token = csrf_token(page.text)
    # The form's token, or the login cookie it must match, odd: refused as any wrong token is.
    forged_form = app.post(
        "/dashboard/login",
        data={"csrf_token": odd, "user": "admin", "password": ADMIN_PASSWORD},
        follow_redirects=False,
    )
    assert forged_form.status_code == 403
    forged_cookie = app.post(
        "/dashboard/login",
        data={"csrf_token": token, "user": "admin", "password": ADMIN_PASSWORD},
        headers={"Cookie": b"moderation_login_csrf=" + raw},
        follow_redirects=False,
    )
    assert forged_cookie.status_code == 403
    # Odd text in the user and password fields is a wrong login, nothing more.
    wrong = app.post(
        "/dashboard/login",
        data={"csrf_token": token, "user": odd, "password": odd},
        follow_redirects=False,
    )
    assert wrong.status_code == 401


def test_production_uses_a_host_only_secure_cookie(make_client):
    app = make_client(
        MarkerScorer(),
        ENVIRONMENT="production",
        ALLOW_MEMORY_STORE=True,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        SESSION_SECRET="R2kC6yq0mT8cXn3vJb5Wf9Lp1Hs7Ge4dZa-Qo_uYiK",
        ALLOWED_HOSTS=["testserver"],
    )
    app.base_url = "https://testserver"  # Secure cookies travel over https only
    response = dashboard_login(app)
    [cookie] = [v for k, v in response.headers.multi_items() if k == "set-cookie" and "_session=" in v]
    assert cookie.startswith("__Host-moderation_session=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "path", "samesite"} <= attributes and "domain" not in attributes
    page = app.get("/dashboard", follow_redirects=False)
    assert page.status_code == 200
    logout = app.post("/dashboard/logout", data={"csrf_token": csrf_token(page.text)}, follow_redirects=False)
    [cleared] = [v for k, v in logout.headers.multi_items() if k == "set-cookie"]
    assert cleared.startswith("__Host-moderation_session=") and "Secure" in cleared
    assert app.get("/dashboard", follow_redirects=False).status_code == 303
