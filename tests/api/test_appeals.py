"""POST /v1/comments/{id}/appeal (issue 14): the commenter contests a rejection with the verdict's appeal
token, the comment waits in the review queue as an appeal, and the moderator's decision is final: in the
status, on the webhook, in the log. Through the app, on real Redis and on the memory store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.review.webhook import SIGNATURE_HEADER, verify
from tests.review.test_webhook import Receiver
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.comments import moderate, status
from tests.support.fakes import FakeClock
from tests.support.scorers import MarkerScorer

SECRET = "webhook-secret-for-tests"
REJECTED = "This is fucking ridiculous."
HELD = "Hmm [[insult=0.6]]"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(params=["redis", "memory"])
def app(request: pytest.FixtureRequest, make_client: Any, receiver: Receiver) -> TestClient:
    stored: dict[str, Any] = {}
    if request.param == "redis":
        stored = {
            "REDIS_URL": request.getfixturevalue("redis_url"),
            "REDIS_PREFIX": request.getfixturevalue("key_prefix"),
        }
    client: TestClient = make_client(
        MarkerScorer(),
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        WEBHOOK_URL=receiver.url,
        WEBHOOK_SECRET=SECRET,
        **stored,
    )
    return client


def appeal(client: TestClient, verdict: dict[str, Any], explanation: str = "I quoted the article.") -> Any:
    return client.post(
        f"/v1/comments/{verdict['id']}/appeal",
        json={"appeal_token": verdict["appeal_token"], "explanation": explanation},
    )


def test_only_a_reject_or_a_review_carries_an_appeal_token(app):
    assert moderate(app, "ok", "A kind word.")["appeal_token"] is None
    tokens = [moderate(app, i, t)["appeal_token"] for i, t in (("bad", REJECTED), ("maybe", HELD))]
    assert all(isinstance(t, str) and len(t) >= 22 for t in tokens) and tokens[0] != tokens[1]
    batch = app.post(
        "/v1/moderate/batch",
        json={"comments": [{"id": "b1", "text": REJECTED}, {"id": "b2", "text": "Nice."}]},
    ).json()["results"]
    assert batch[0]["appeal_token"] and batch[1]["appeal_token"] is None
    # A cached verdict for another id gets that comment's own token, never the first one's.
    again = moderate(app, "bad-2", REJECTED)
    assert again["cached"] is True and again["appeal_token"] not in (
        None,
        tokens[0],
        batch[0]["appeal_token"],
    )


def test_an_appeal_reaches_the_queue_and_the_moderators_decision_reaches_status_webhook_and_log(
    app, receiver
):
    verdict = moderate(app, "c-1", REJECTED, article_id="a-9")
    response = appeal(app, verdict, "I was quoting <b>the article</b>\u202e.")
    assert response.status_code == 202, response.text
    assert response.headers["cache-control"] == "no-store"  # it quotes the commenter's words
    body = response.json()
    assert (body["status"], body["publish"], body["final"]) == ("pending_review", None, False)
    assert body["appeal"]["explanation"] == "I was quoting <b>the article</b>\u202e."
    assert body["appeal"]["appealed_at"]
    assert status(app, verdict)["status"] == "pending_review"  # the site holds it meanwhile

    headers = login(app)
    queue = app.get("/v1/review").json()
    assert queue["pending"] == 1
    (item,) = queue["items"]
    assert item["comment_id"] == "c-1"
    assert item["entry"]["appeal"] is True
    assert item["entry"]["appeal_explanation"] == "I was quoting <b>the article</b>\u202e."
    assert item["entry"]["text"] == REJECTED  # the moderator reads what was rejected
    assert item["entry"]["verdict"] == "reject"

    decided = app.post("/v1/review/c-1", json={"decision": "approve", "note": "a quote"}, headers=headers)
    assert decided.status_code == 200, decided.text
    assert status(app, verdict)["status"] == "approved"
    assert app.get("/v1/review").json()["pending"] == 0

    receiver.wait_for(1)
    headers_sent, raw, _ = receiver.requests[0]
    assert verify(SECRET, raw, headers_sent[SIGNATURE_HEADER.lower()])
    payload = json.loads(raw)
    assert {k: payload[k] for k in ("comment_id", "status", "publish", "previous_status", "appeal")} == {
        "comment_id": "c-1",
        "status": "approved",
        "publish": True,
        "previous_status": "pending_review",
        "appeal": True,
    }
    (logged,) = app.get("/v1/review/log", params={"kind": "moderator"}).json()["entries"]
    assert (logged["comment_id"], logged["moderator"], logged["status"], logged["appeal"]) == (
        "c-1",
        "admin",
        "approved",
        True,
    )


def test_a_decision_that_is_no_appeal_says_so_on_the_webhook(app, receiver):
    held = moderate(app, "h-1", HELD)
    app.post("/v1/review/h-1", json={"decision": "reject"}, headers=login(app))
    receiver.wait_for(1)
    assert json.loads(receiver.requests[0][1])["appeal"] is False
    # A moderator's rejection is appealable in its turn, with the token the review verdict carried.
    assert appeal(app, held).status_code == 202
    assert app.get("/v1/review").json()["items"][0]["entry"]["appeal"] is True


def test_a_wrong_token_answers_exactly_as_an_unknown_id(app):
    real = moderate(app, "c-7001", REJECTED)
    other = moderate(app, "c-7002", REJECTED)
    body = {"appeal_token": other["appeal_token"], "explanation": "Please look again."}
    wrong = app.post("/v1/comments/c-7001/appeal", json=body)
    unknown = app.post("/v1/comments/c-7003/appeal", json=body)
    status_token = app.post(
        "/v1/comments/c-7001/appeal", json={"appeal_token": real["status_token"], "explanation": "x"}
    )
    odd = app.post("/v1/comments/c-7001/appeal", json={"appeal_token": "jalapeño\u202e", "explanation": "x"})
    for response in (wrong, unknown, status_token, odd):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "comment_not_found"
    assert wrong.json()["error"]["message"].replace("7001", "7003") == unknown.json()["error"]["message"]
    assert status(app, real)["status"] == "rejected"  # nothing changed


def test_once_per_comment(app):
    verdict = moderate(app, "c-2", REJECTED)
    assert appeal(app, verdict).status_code == 202
    twice = appeal(app, verdict)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_appealed"
    app.post("/v1/review/c-2", json={"decision": "reject"}, headers=login(app))
    after = appeal(app, verdict)
    assert after.status_code == 409 and after.json()["error"]["code"] == "already_appealed"
    assert status(app, verdict)["status"] == "rejected_by_moderator"


def test_a_pending_review_or_an_accepted_comment_is_not_appealable(app):
    held = moderate(app, "h-2", HELD)
    response = appeal(app, held)
    assert response.status_code == 409 and response.json()["error"]["code"] == "pending_review"
    assert "already awaiting a moderator" in response.json()["error"]["message"]
    rejected = moderate(app, "r-2", REJECTED)
    app.post("/v1/comments/r-2/overturn", json={}, headers=login(app))  # now approved
    response = appeal(app, rejected)
    assert response.status_code == 409 and response.json()["error"]["code"] == "not_appealable"


@pytest.mark.parametrize(
    ("explanation", "code"), [("x" * 2001, "explanation_too_long"), ("   ", "missing_field"), (None, None)]
)
def test_the_explanation_is_bounded(app, explanation, code):
    verdict = moderate(app, "c-3", REJECTED)
    body = {"appeal_token": verdict["appeal_token"]}
    if explanation is not None:
        body["explanation"] = explanation
    response = app.post("/v1/comments/c-3/appeal", json=body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "explanation"
    if code:
        assert response.json()["error"]["code"] == code
    assert appeal(app, verdict, "y" * 2000).status_code == 202  # the limit itself is allowed


def test_the_window_closes(app):
    clock = FakeClock(start=1_800_000_000.0)
    app.app.state.decisions._clock = clock  # type: ignore[attr-defined]  # the log's injectable clock
    verdict = moderate(app, "c-4", REJECTED)
    late = moderate(app, "c-5", REJECTED)
    window_s = 30 * 86_400  # the default window (183 days) capped by the default retention (30 days)
    clock.advance(window_s)
    assert appeal(app, verdict).status_code == 202  # the last second of the window
    clock.advance(1)
    response = appeal(app, late)
    assert response.status_code == 410 and response.json()["error"]["code"] == "appeal_window_closed"
    assert status(app, late)["status"] == "rejected"


def test_a_pending_appeal_never_expires(make_client, redis_url, key_prefix, raw_redis):
    client = make_client(MarkerScorer(), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    verdict = moderate(client, "c-6", REJECTED)
    assert raw_redis.ttl(f"{key_prefix}comment:c-6") > 0
    assert appeal(client, verdict).status_code == 202
    assert raw_redis.ttl(f"{key_prefix}comment:c-6") == -1  # kept until a moderator decides
    assert raw_redis.zscore(f"{key_prefix}review:queue", "c-6") is not None


def test_an_appeal_respects_the_queue_cap(make_client, redis_url, key_prefix, raw_redis):
    client = make_client(
        MarkerScorer(),
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        REVIEW_QUEUE_MAX=1,
        REVIEW_OVERFLOW_MAX=5,
    )
    moderate(client, "h-1", HELD)
    verdict = moderate(client, "c-7", REJECTED)
    assert appeal(client, verdict).status_code == 202
    assert raw_redis.zcard(f"{key_prefix}review:queue") == 1
    assert raw_redis.zcard(f"{key_prefix}review:overflow") == 1
    login(client)
    assert client.get("/v1/review").json()["pending"] == 2
