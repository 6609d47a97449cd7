"""service/web/pages.py: what the moderator reads, and the review and overturn forms."""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urljoin, urlsplit

from service import runtime
from service.moderation.types import Comment, Verdict
from service.store.redis import RedisStore
from tests.support.admin import ADMIN_PASSWORD, csrf_token, dashboard_login
from tests.support.comments import status
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings


def test_review_form_decides_with_the_token(app):
    verdict = app.post("/v1/moderate", json={"text": "Hmm [[insult=0.6]]", "id": "f2"}).json()
    dashboard_login(app)
    page = app.get("/dashboard/review")
    assert 'data-comment-id="f2"' in page.text
    token = csrf_token(page.text)
    response = app.post(
        "/dashboard/review/f2", data={"decision": "reject", "csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/review"
    assert status(app, verdict)["status"] == "rejected_by_moderator"
    assert "Rejected comment f2." in app.get("/dashboard/review").text


def test_review_form_refuses_unknown_decisions_and_comments(app):
    verdict = app.post("/v1/moderate", json={"text": "Hmm [[insult=0.6]]", "id": "f3"}).json()
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard/review").text)
    maybe = app.post("/dashboard/review/f3", data={"decision": "maybe", "csrf_token": token})
    assert maybe.url.path == "/dashboard/review"
    assert '<p class="flash error" role="status">Choose approve or reject.</p>' in maybe.text
    unknown = app.post("/dashboard/review/zz", data={"decision": "approve", "csrf_token": token})
    assert '<p class="flash error" role="status">Comment zz is unknown.</p>' in unknown.text
    assert status(app, verdict)["status"] == "pending_review"


def test_overturn_returns_to_the_page_it_came_from(app):
    verdict = app.post("/v1/moderate", json={"text": "This is fucking ridiculous.", "id": "o1"}).json()
    dashboard_login(app)
    token = csrf_token(app.get("/dashboard/rejections").text)
    response = app.post(
        "/dashboard/comments/o1/overturn",
        data={"csrf_token": token, "back": "/dashboard/rejections?clause=obscene"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/rejections?clause=obscene"
    assert status(app, verdict)["status"] == "approved"
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


def test_a_comment_id_cannot_aim_a_form_at_another_comment(app):
    # "Why" 3 of issue 10: {"id": "../comments/victim-1/overturn"} rendered as a review form whose action
    # resolved to /dashboard/comments/victim-1/overturn; Approve overturned victim-1.
    refused = app.post(
        "/v1/moderate", json={"text": "Hmm [[insult=0.6]]", "id": "../comments/victim-1/overturn"}
    )
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "id"


def test_an_id_recorded_before_the_rule_stays_in_its_own_path_segment(make_client, redis_url, key_prefix):
    app = make_client(
        MarkerScorer(), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD
    )
    aimed = "../comments/victim-1/overturn"

    async def record_legacy() -> None:  # as the service recorded it before ids were checked
        store = RedisStore.from_url(redis_url, prefix=key_prefix)
        try:
            verdict = Verdict(id=aimed, verdict="review", policy_version="p", model="m")
            await runtime.decision_log(make_settings(), store).record(
                [Comment(id=aimed, text="old")], [verdict]
            )
        finally:
            await store.aclose()

    asyncio.run(record_legacy())
    dashboard_login(app)
    page = app.get("/dashboard/review").text
    item = page.split('id="review-item"', 1)[1]
    action = re.search(r'<form method="post" action="([^"]+)"', item)
    assert action is not None
    resolved = urlsplit(urljoin("http://testserver/dashboard/review", action.group(1))).path
    assert resolved == "/dashboard/review/..%2Fcomments%2Fvictim-1%2Foverturn"


def test_overturn_forms_encode_the_id_as_one_path_segment(app):
    app.post("/v1/moderate", json={"text": "This is fucking ridiculous.", "id": "site:c-9"})
    dashboard_login(app)
    assert 'action="/dashboard/comments/site%3Ac-9/overturn"' in app.get("/dashboard/rejections").text
