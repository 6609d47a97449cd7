"""The review queue and the decision log through the admin API, on real Redis."""

from __future__ import annotations

import pytest

from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.comments import status
from tests.support.scorers import MarkerScorer


@pytest.fixture
def app(make_client, redis_url, key_prefix):
    return make_client(
        MarkerScorer(), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD
    )


def test_log_holds_rejections_and_reviews_in_full(app):
    app.post(
        "/v1/moderate",
        json={"text": "This is fucking ridiculous.", "id": "r1", "article_id": "a-7", "author_id": "u-9"},
    )
    app.post("/v1/moderate", json={"text": "Lovely.", "id": "ok"})
    app.post("/v1/moderate", json={"text": "You are dim [[insult=0.55]]", "id": "v1", "article_id": "a-7"})
    login(app)
    entries = app.get("/v1/review/log").json()["entries"]
    assert [(e["comment_id"], e["verdict"]) for e in entries] == [("v1", "review"), ("r1", "reject")]
    rejected = entries[1]
    assert rejected["text"] == "This is fucking ridiculous."
    assert (rejected["article_id"], rejected["author_id"]) == ("a-7", "u-9")
    assert rejected["policy_version"] == "2026-11-29.1" and rejected["model"] == "marker:000000000000"
    (match,) = rejected["matches"]
    assert rejected["text"][match["start"] : match["end"]] == match["text"]
    assert any(r["source"] == "wordlist" and r["clause"] == "obscene" for r in rejected["reasons"])
    assert rejected["scores"]["insult"] == 0.01
    review = entries[0]["reasons"][0]
    assert (review["category"], review["score"], review["threshold"]) == ("insult", 0.55, 0.5)

    rejections = app.get("/v1/review/log", params={"verdict": "reject", "clause": "obscene"}).json()
    assert [e["comment_id"] for e in rejections["entries"]] == ["r1"]
    assert app.get("/v1/review/log", params={"before": "not-an-id"}).status_code == 422


def test_review_queue_is_cleared_by_decisions(app):
    verdicts = [
        app.post("/v1/moderate", json={"text": f"Borderline {i} [[insult=0.6]]", "id": f"q{i}"}).json()
        for i in range(3)
    ]
    headers = login(app)
    queue = app.get("/v1/review").json()
    assert queue["pending"] == 3
    assert [i["comment_id"] for i in queue["items"]] == ["q0", "q1", "q2"]  # oldest first
    assert queue["items"][0]["entry"]["text"] == "Borderline 0 [[insult=0.6]]"

    approved = app.post(
        "/v1/review/q0", json={"decision": "approve", "note": "satire"}, headers=headers
    ).json()
    assert (approved["status"], approved["publish"], approved["decided_by"], approved["note"]) == (
        "approved",
        True,
        "admin",
        "satire",
    )
    rejected = app.post("/v1/review/q1", json={"decision": "reject"}, headers=headers).json()
    assert rejected["status"] == "rejected_by_moderator" and rejected["publish"] is False
    assert status(app, verdicts[0])["status"] == "approved"
    assert status(app, verdicts[1])["publish"] is False

    again = app.post("/v1/review/q0", json={"decision": "reject"}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_pending"
    assert app.post("/v1/review/zzz", json={"decision": "reject"}, headers=headers).status_code == 404
    bad = app.post("/v1/review/q2", json={"decision": "maybe"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "decision"

    assert [i["comment_id"] for i in app.get("/v1/review").json()["items"]] == ["q2"]
    moderator = app.get("/v1/review/log", params={"kind": "moderator"}).json()["entries"]
    assert [(e["comment_id"], e["action"], e["moderator"], e["note"]) for e in moderator] == [
        ("q1", "reject", "admin", ""),
        ("q0", "approve", "admin", "satire"),
    ]


def test_review_api_needs_a_login(app):
    assert app.get("/v1/review").status_code == 401
    assert app.get("/v1/review/log").json()["error"]["code"] == "unauthorized"
    wrong = app.post("/v1/session", json={"user": "admin", "password": "not it"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    assert app.get("/v1/review").status_code == 401
    headers = login(app)
    assert app.get("/v1/review").status_code == 200
    cookie = next(c.value for c in app.cookies.jar if c.name == "moderation_session")
    assert app.delete("/v1/session").status_code == 403  # logging out changes state: CSRF token needed
    assert app.delete("/v1/session", headers=headers).status_code == 204
    assert app.get("/v1/review").status_code == 401
    # The session ended in the store, not only in this client: the old cookie, sent again, is refused.
    replayed = app.get("/v1/review", headers={"Cookie": f"moderation_session={cookie}"})
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "unauthorized"


def test_logout_everywhere_through_the_api(app):
    first = login(app)
    cookie = next(c.value for c in app.cookies.jar if c.name == "moderation_session")
    app.cookies.clear()
    second = login(app)
    assert app.delete("/v1/session?everywhere=true", headers=second).status_code == 204
    old = app.get("/v1/review", headers={"Cookie": f"moderation_session={cookie}"})
    assert old.status_code == 401
    stale_logout = app.delete("/v1/session", headers={**first, "Cookie": f"moderation_session={cookie}"})
    assert stale_logout.status_code == 401


def test_api_login_answers_429_with_retry_after_in_the_error_shape(make_client, redis_url, key_prefix):
    app = make_client(
        MarkerScorer(),
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        LOGIN_LIMIT_PER_USER="2/minute",
    )
    wrong = [app.post("/v1/session", json={"user": "admin", "password": f"guess-{i}"}) for i in range(2)]
    assert [r.status_code for r in wrong] == [401, 401]
    refused = app.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 60
    error = refused.json()["error"]
    assert error["code"] == "too_many_login_attempts" and "try again in" in error["message"]
    assert "set-cookie" not in refused.headers and app.get("/v1/review").status_code == 401
    # Another user name is counted apart (this address is still within its own limit).
    assert app.post("/v1/session", json={"user": "root", "password": "x"}).status_code == 401


def test_odd_cookies_tokens_and_credentials_give_4xx_not_500(app):
    for cookie in ("café".encode(), "☃".encode(), b"\xff\xfe"):
        response = app.get("/v1/review", headers={"Cookie": b"moderation_session=" + cookie})
        assert response.status_code == 401
    headers = login(app)
    assert app.get("/v1/review").status_code == 200
    forged = app.post(
        "/v1/review/q1", json={"decision": "approve"}, headers={"X-CSRF-Token": "é".encode("latin-1")}
    )
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed"
    # JSON can carry lone surrogates, which no encoder takes as they are: refused (the body's validation
    # refuses them today; were it to let them through, the login compares them as bytes), never a 500.
    body = '{"user": "admin", "password": "\\ud800"}'
    wrong = app.post("/v1/session", content=body, headers={"Content-Type": "application/json"})
    assert wrong.status_code in (401, 422)
    assert app.delete("/v1/session", headers=headers).status_code == 204


def test_moderation_stays_public(app):
    assert app.post("/v1/moderate", json={"text": "Hello"}).status_code == 200


# -- bounded storage and pages (issue 10, "Why" 4) -----------------------------------------------------------


def _size(raw_redis, key):
    return sum(len(k.encode()) + len(v.encode()) for k, v in raw_redis.hgetall(key).items())


def test_a_review_of_one_word_repeated_keeps_a_bounded_status(app, raw_redis, key_prefix):
    # "hell " repeated made a 787 KB pending-review hash, without expiry: a match and a reason per word.
    verdict = app.post("/v1/moderate", json={"text": "hell " * 2000, "id": "h1"}).json()
    assert raw_redis.hget(f"{key_prefix}comment:h1", "status") == "pending_review"
    # Its copies of the log entry and the verdict: 4,000 characters of text, 20 matches, 20 reasons.
    assert _size(raw_redis, f"{key_prefix}comment:h1") < 30_000
    assert verdict["verdict"] == "review" and verdict["profanity"]["omitted"] == 1980
    entry = raw_redis.xrange(f"{key_prefix}log")[-1][1]
    assert len(entry["text"]) == 4_000 and entry["text_omitted"] == "6000"


def test_a_page_of_500_log_entries_stays_bounded(app):
    # GET /v1/review/log?limit=500 answered 299 MB (3.65 GB peak memory) after such reviews.
    comments = [{"text": "hell " * 2000} for _ in range(100)]
    for _ in range(5):
        assert app.post("/v1/moderate/batch", json={"comments": comments}).status_code == 200
    login(app)
    page = app.get("/v1/review/log", params={"limit": 500})
    assert page.status_code == 200
    # About 10 KB an entry (4,000 characters, 20 matches, 20 reasons): a few MB for the page, not 299.
    assert len(page.content) < 10_000_000, len(page.content)
    entries = page.json()["entries"]
    assert len(entries) == 500 and {e["text_omitted"] for e in entries} == {6000}
    queue = app.get("/v1/review", params={"limit": 1}).json()
    assert (queue["pending"], queue["overflow"], queue["overflow_lost"]) == (500, 0, 0)


def test_the_review_api_shows_the_overflow_and_what_it_lost(make_client, redis_url, key_prefix):
    app = make_client(
        MarkerScorer(),
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        REVIEW_QUEUE_MAX=2,
        REVIEW_OVERFLOW_MAX=1,
    )
    for i in range(5):
        app.post("/v1/moderate", json={"text": f"Borderline {i} [[insult=0.6]]", "id": f"q{i}"})
    headers = login(app)
    queue = app.get("/v1/review").json()
    assert (queue["pending"], queue["overflow"], queue["overflow_lost"]) == (3, 1, 2)
    assert [(i["comment_id"], i["overflow"]) for i in queue["items"]] == [
        ("q3", False),
        ("q4", False),
        ("q2", True),
    ]
    # The lost are not gone: a moderator who knows the id can still decide them.
    assert (
        app.post("/v1/review/q0", json={"decision": "approve"}, headers=headers).json()["status"]
        == "approved"
    )
