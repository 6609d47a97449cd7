"""The statement of reasons (issue 14): GET /v1/comments/{id}/statement as JSON, its page statement.html, and
the dashboard's export of statements as JSON lines. Through the app, on real Redis and on the memory store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.api.surface import CONTENT_SECURITY_POLICY
from tests.support.admin import ADMIN_PASSWORD, dashboard_login, login
from tests.support.comments import moderate
from tests.support.scorers import MarkerScorer

REJECTED = "This is fucking ridiculous."
HELD = "Hmm [[insult=0.6]]"
CONTRACT = {
    "decision",
    "clause",
    "facts",
    "automated_detection",
    "automated_decision",
    "policy_version",
    "decided_at",
    "redress",
}


@pytest.fixture(params=["redis", "memory"])
def app(request: pytest.FixtureRequest, make_client: Any) -> TestClient:
    stored: dict[str, Any] = {}
    if request.param == "redis":
        stored = {
            "REDIS_URL": request.getfixturevalue("redis_url"),
            "REDIS_PREFIX": request.getfixturevalue("key_prefix"),
        }
    client: TestClient = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD, **stored)
    return client


def statement(client: TestClient, verdict: dict[str, Any]) -> dict[str, Any]:
    response = client.get(
        f"/v1/comments/{verdict['id']}/statement", headers={"X-Appeal-Token": verdict["appeal_token"]}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    return body


def test_a_word_list_rejection(app):
    verdict = moderate(app, "w-1", REJECTED)
    body = statement(app, verdict)
    assert CONTRACT <= set(body)
    assert (body["decision"], body["status"], body["clause"]) == ("rejected", "rejected", "obscene")
    assert body["automated_detection"] is True and body["automated_decision"] is True
    assert body["policy_version"] == verdict["policy_version"]
    assert any('"fucking"' in fact and "obscene words" in fact for fact in body["facts"]), body["facts"]
    redress = body["redress"]
    assert redress["appeal_endpoint"] == "/v1/comments/w-1/appeal"
    assert redress["appealable"] is True and redress["appealed"] is False
    assert redress["free_of_charge"] is True and redress["decided_by_human"] is True
    decided = datetime.fromisoformat(body["decided_at"])
    deadline = datetime.fromisoformat(redress["deadline"])
    assert deadline - decided == timedelta(days=30)  # APPEAL_WINDOW_DAYS capped by LOG_RETENTION_DAYS
    # The same by ?appeal_token=, for a link.
    by_query = app.get("/v1/comments/w-1/statement", params={"appeal_token": verdict["appeal_token"]})
    assert by_query.json() == body


def test_a_model_rejection(app):
    body = statement(app, moderate(app, "m-1", "You are [[insult=0.91]]"))
    assert (body["decision"], body["clause"], body["clauses"]) == ("rejected", "personal", ["personal"])
    (fact,) = body["facts"]
    assert "0.91" in fact and "insults" in fact and "0.70" in fact and "automated model" in fact


def test_a_moderators_rejection_is_no_automated_decision(app):
    verdict = moderate(app, "h-1", HELD)
    assert app.post("/v1/review/h-1", json={"decision": "reject"}, headers=login(app)).status_code == 200
    body = statement(app, verdict)
    assert (body["decision"], body["status"]) == ("rejected", "rejected_by_moderator")
    assert body["automated_detection"] is True and body["automated_decision"] is False
    assert body["clause"] == "personal"
    assert "A moderator read the comment and rejected it." in body["facts"]
    assert body["redress"]["appealable"] is True


def test_a_withheld_comment_and_then_its_appeal(app):
    held = statement(app, moderate(app, "h-2", HELD))
    assert (held["decision"], held["status"], held["clause"]) == ("withheld", "pending_review", "personal")
    assert held["redress"]["appealable"] is False and held["redress"]["deadline"] is None
    assert "No appeal is needed" in held["redress"]["how"]

    verdict = moderate(app, "r-2", REJECTED)
    before = statement(app, verdict)
    body = {"appeal_token": verdict["appeal_token"], "explanation": "A quote."}
    assert app.post("/v1/comments/r-2/appeal", json=body).status_code == 202
    after = statement(app, verdict)
    assert (after["decision"], after["status"]) == ("rejected", "pending_review")
    assert after["decided_at"] == before["decided_at"]  # still the decision appealed
    assert (after["redress"]["appealed"], after["redress"]["appeal_status"]) == (True, "pending")
    assert after["redress"]["appealable"] is False


def test_a_published_comment_has_none_and_a_wrong_token_is_a_404(app):
    verdict = moderate(app, "r-3", REJECTED)
    other = moderate(app, "r-4", REJECTED)
    wrong = app.get("/v1/comments/r-3/statement", headers={"X-Appeal-Token": other["appeal_token"]})
    unknown = app.get("/v1/comments/r-5/statement", headers={"X-Appeal-Token": other["appeal_token"]})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["error"]["message"].replace("r-3", "r-5") == unknown.json()["error"]["message"]
    missing = app.get("/v1/comments/r-3/statement")
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "appeal_token")
    app.post("/v1/comments/r-3/overturn", json={}, headers=login(app))  # approved: published
    published = app.get("/v1/comments/r-3/statement", headers={"X-Appeal-Token": verdict["appeal_token"]})
    assert published.status_code == 409 and published.json()["error"]["code"] == "no_statement"


def test_the_page_renders_escapes_and_isolates(app):
    verdict = moderate(app, "p-1", 'He said "fu\u202eck off" <b>twice</b>.')
    assert verdict["verdict"] == "reject"
    page = app.get("/v1/comments/p-1/statement.html", params={"appeal_token": verdict["appeal_token"]})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    html = page.text
    assert "<script" not in html  # no script needed
    assert "Statement of reasons" in html and "obscene words" in html
    assert "\u202e" not in html and "U+202E" in html  # the override is shown, never applied
    assert "&#34;fu" in html  # the fact's quotes, escaped
    assert 'id="redress"' in html and "free of charge" in html

    wrong = app.get("/v1/comments/p-1/statement.html", params={"appeal_token": "nope"})
    unknown = app.get("/v1/comments/p-9/statement.html", params={"appeal_token": "nope"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.text.replace("p-1", "p-9") == unknown.text
    assert 'id="statement-not-found"' in wrong.text and "text/html" in wrong.headers["content-type"]
    assert app.get("/v1/comments/p-1/statement.html").status_code == 422


def _lines(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_the_dashboard_exports_statements_for_a_time_range(make_client, redis_url, key_prefix):
    app = make_client(
        MarkerScorer(),
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        STATEMENT_EXPORT_MAX=2,
    )
    # The log's positions are Redis' own milliseconds, so the range is taken from the real clock.
    marks = []
    for comment_id, text in (
        ("e-1", REJECTED),
        ("e-2", HELD),
        ("e-3", "You are [[insult=0.91]]"),
        ("e-4", REJECTED),
    ):
        time.sleep(0.005)
        marks.append(datetime.now(UTC).isoformat())
        time.sleep(0.005)
        moderate(app, comment_id, text)
        if comment_id == "e-1":
            moderate(app, "e-ok", "A kind word.")  # accepted: not logged, no statement

    anonymous = app.get("/dashboard/statements.jsonl", follow_redirects=False)
    assert anonymous.status_code == 303 and "/dashboard/login" in anonymous.headers["location"]
    dashboard_login(app)

    ranged = _lines(app.get("/dashboard/statements.jsonl", params={"since": marks[1], "until": marks[3]}))
    assert [(s["comment_id"], s["decision"]) for s in ranged] == [("e-3", "rejected"), ("e-2", "withheld")]
    assert all(CONTRACT <= set(s) for s in ranged)

    capped = _lines(app.get("/dashboard/statements.jsonl"))
    assert [s.get("comment_id") for s in capped[:2]] == ["e-4", "e-3"]
    assert capped[2] == {"truncated": True, "limit": 2}

    page = app.get("/dashboard/rejections", params={"since": "2026-03-01T10:30"}).text
    assert 'href="/dashboard/statements.jsonl?since=2026-03-01T10%3A30&amp;until="' in page

    bad = app.get("/dashboard/statements.jsonl", params={"since": "yesterday"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "since"
