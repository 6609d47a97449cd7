"""service/web/pages.py: what the moderator reads, and the review and overturn forms."""

from __future__ import annotations

from tests.support.admin import csrf_token, dashboard_login


def test_review_form_decides_with_the_token(app):
    app.post("/v1/moderate", json={"text": "Hmm [[insult=0.6]]", "id": "f2"})
    dashboard_login(app)
    page = app.get("/dashboard/review")
    assert 'data-comment-id="f2"' in page.text
    token = csrf_token(page.text)
    response = app.post(
        "/dashboard/review/f2", data={"decision": "reject", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/review"
    assert app.get("/v1/comments/f2").json()["status"] == "rejected_by_moderator"
    assert "Rejected comment f2." in app.get("/dashboard/review").text


def test_review_form_refuses_unknown_decisions_and_comments(app):
    app.post("/v1/moderate", json={"text": "Hmm [[insult=0.6]]", "id": "f3"})
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard/review").text)
    maybe = app.post("/dashboard/review/f3", data={"decision": "maybe", "csrf_token": token})
    assert maybe.url.path == "/dashboard/review"
    assert '<p class="flash error" role="status">Choose approve or reject.</p>' in maybe.text
    unknown = app.post("/dashboard/review/zz", data={"decision": "approve", "csrf_token": token})
    assert '<p class="flash error" role="status">Comment zz is unknown.</p>' in unknown.text
    assert app.get("/v1/comments/f3").json()["status"] == "pending_review"


def test_overturn_returns_to_the_page_it_came_from(app):
    app.post("/v1/moderate", json={"text": "This is fucking ridiculous.", "id": "o1"})
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard/rejections").text)
    response = app.post(
        "/dashboard/comments/o1/overturn",
        data={"csrf_token": token, "back": "/dashboard/rejections?clause=obscene"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/rejections?clause=obscene"
    assert app.get("/v1/comments/o1").json()["status"] == "approved"
    assert "Comment o1 is now approved." in app.get(response.headers["location"]).text
    off_site = app.post(
        "/dashboard/comments/o1/overturn",
        data={"csrf_token": token, "back": "//evil.example/dashboard"},
        follow_redirects=False,
    )
    assert off_site.headers["location"] == "/dashboard/rejections"


def test_comment_text_is_escaped_and_spans_highlighted(app):
    app.post("/v1/moderate", json={"text": "<img src=x onerror=alert(1)> fucking hell", "id": "x1"})
    dashboard_login(app)
    page = app.get("/dashboard/rejections").text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; <mark>fucking</mark>" in page


def test_pages_are_neither_cached_nor_framed(app):
    pages = [app.get("/dashboard/login").headers]
    dashboard_login(app)
    pages += [app.get(path).headers for path in ("/dashboard", "/dashboard/rejections", "/dashboard/review")]
    for headers in pages:
        assert headers["cache-control"] == "no-store" and headers["x-frame-options"] == "DENY"
        assert "default-src 'self'" in headers["content-security-policy"]


def test_rejections_pages_through_the_log_and_ignores_a_broken_cursor(app):
    for i in range(3):
        app.post("/v1/moderate", json={"text": f"This is fucking ridiculous #{i}.", "id": f"p{i}"})
    dashboard_login(app)
    newest = app.get("/dashboard/rejections")
    assert newest.status_code == 200 and "/dashboard/comments/p2/overturn" in newest.text
    # A cursor is "<ms>-<seq>" in ASCII digits; anything else (other scripts' digits included) starts over.
    for broken in ("\u0661\u0662\u0663-0", "\u00b2", "1-2-3", "abc"):
        page = app.get("/dashboard/rejections", params={"before": broken})
        assert page.status_code == 200 and "/dashboard/comments/p2/overturn" in page.text
