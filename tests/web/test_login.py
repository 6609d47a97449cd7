"""service/web/login.py: the dashboard's login form (double-submit CSRF), its session cookie, and the logout."""

from __future__ import annotations

from tests.support.admin import ADMIN_PASSWORD, csrf_token, dashboard_login, login_form_token


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


def test_logout_ends_the_session(app):
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard").text)
    response = app.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    assert app.get("/dashboard", follow_redirects=False).status_code == 303
