"""service/web/deps.py through the app: pages need a session, forms need the session's CSRF token."""

from __future__ import annotations

from tests.support.admin import dashboard_login
from tests.support.comments import status


def test_anonymous_pages_redirect_to_the_login(app):
    for path in ("/dashboard", "/dashboard/rejections?clause=obscene", "/dashboard/review"):
        response = app.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/dashboard/login?next=%2Fdashboard")


def test_the_login_comes_back_to_the_page_asked_for(app):
    response = app.get("/dashboard/rejections?clause=obscene&article=a-1", follow_redirects=False)
    assert response.headers["location"] == (
        "/dashboard/login?next=%2Fdashboard%2Frejections%3Fclause%3Dobscene%26article%3Da-1"
    )


def test_anonymous_form_posts_go_to_the_login_and_then_the_overview(app):
    # A form cannot be re-posted after the login, so it does not come back to the form's URL.
    for path in ("/dashboard/review/c1", "/dashboard/comments/c1/overturn", "/dashboard/logout"):
        response = app.post(path, data={"decision": "approve"}, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login?next=%2Fdashboard"


def test_forged_dashboard_posts_are_refused(app):
    verdict = app.post("/v1/moderate", json={"text": "Hmm [[insult=0.6]]", "id": "f1"}).json()
    dashboard_login(app)
    for path, data in (
        ("/dashboard/review/f1", {"decision": "approve"}),
        ("/dashboard/review/f1", {"decision": "approve", "csrf_token": "guess"}),
        ("/dashboard/comments/f1/overturn", {}),
        ("/dashboard/logout", {}),
    ):
        assert app.post(path, data=data, follow_redirects=False).status_code == 403
    assert status(app, verdict)["status"] == "pending_review"


def test_a_refused_form_says_why_on_a_page(app):
    dashboard_login(app)
    response = app.post("/dashboard/review/f1", data={"decision": "approve"}, follow_redirects=False)
    assert response.status_code == 403 and response.headers["content-type"].startswith("text/html")
    assert "security token is missing or stale" in response.text


def test_an_odd_session_cookie_is_no_session_on_every_page_and_form(app):
    # Non-ASCII (once a 500: str comparison of the signature), or well-formed but not ours.
    for cookie in ("café".encode(), "\u2603.\u202e".encode(), b"A" * 43 + b"." + b"B" * 43):
        headers = {"Cookie": b"moderation_session=" + cookie}
        for path in ("/dashboard", "/dashboard/review", "/dashboard/rejections"):
            response = app.get(path, headers=headers, follow_redirects=False)
            assert response.status_code == 303 and response.headers["location"].startswith("/dashboard/login")
        posted = app.post(
            "/dashboard/review/f1", data={"csrf_token": "é"}, headers=headers, follow_redirects=False
        )
        assert posted.status_code == 303


def test_a_form_token_that_is_not_ascii_is_refused(app):
    dashboard_login(app)
    for token in ("é", "\u0000", "\U0001f600" * 10):
        response = app.post("/dashboard/logout", data={"csrf_token": token}, follow_redirects=False)
        assert response.status_code == 403
    assert app.get("/dashboard", follow_redirects=False).status_code == 200  # still logged in
