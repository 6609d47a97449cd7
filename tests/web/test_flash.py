"""service/web/flash.py: only the service puts a message at the top of a dashboard page."""

from __future__ import annotations

from tests.support.admin import csrf_token, dashboard_login


def test_a_link_cannot_put_words_on_the_dashboard(app):
    # Before: /dashboard/review?flash=... showed the link's text as the service's own message.
    dashboard_login(app)
    bait = "Your session expired: log in again at https://evil.example/login"
    for path in ("/dashboard", "/dashboard/review", "/dashboard/rejections"):
        page = app.get(path, params={"flash": bait, "kind": "error"})
        assert page.status_code == 200
        assert "evil.example" not in page.text and 'class="flash' not in page.text, path


def test_a_forms_outcome_is_shown_once(app):
    app.post("/v1/moderate", json={"text": "Hmm [[insult=0.6]]", "id": "fl1"})
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard/review").text)
    decided = app.post("/dashboard/review/fl1", data={"decision": "approve", "csrf_token": token})
    assert decided.url.path == "/dashboard/review"
    assert '<p class="flash " role="status">Approved comment fl1.</p>' in decided.text
    cookie = decided.history[0].headers["set-cookie"]
    assert "moderation_flash=" in cookie and "HttpOnly" in cookie and "Path=/dashboard" in cookie
    assert "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Approved comment" not in app.get("/dashboard/review").text  # read once, then deleted


def test_a_cookie_the_service_did_not_sign_shows_nothing(app):
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard/review").text)
    refused = app.post(
        "/dashboard/review/x1", data={"decision": "approve", "csrf_token": token}, follow_redirects=False
    )
    payload, _, mac = refused.cookies["moderation_flash"].rpartition(".")
    app.cookies.delete("moderation_flash")
    session = app.cookies["moderation_session"]
    for forged in (
        "eyJtIjogIkV2aWwiLCAiayI6ICIiLCAiZSI6IDk5OTk5OTk5OTl9.AAAA",  # {"m": "Evil", ...}, a made-up signature
        f"{payload}.{mac[:-2]}xx",
        "not-even-base64",
        "\u00e9t\u00e9.\u00e9",
    ):
        cookie = f"moderation_session={session}; moderation_flash={forged}".encode()
        page = app.get("/dashboard/review", headers={"cookie": cookie})
        assert page.status_code == 200 and 'class="flash' not in page.text, forged
    genuine = f"moderation_session={session}; moderation_flash={payload}.{mac}"
    assert "Comment x1 is unknown." in app.get("/dashboard/review", headers={"cookie": genuine}).text
