"""POST /v1/precheck and GET /v1/notice through the real app (issue 14): the widget's advice while a comment is
written. The verdict and spans /v1/moderate would give, nothing recorded or counted, rate limited per client
address and per site with 429 + Retry-After, in memory and in Redis."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support.keys import issue_key
from tests.support.scorers import MarkerScorer

DISGUISED = "What a sh1t idea, you dumbass."


def _precheck(client: TestClient, text: str, **headers: str) -> Any:
    return client.post("/v1/precheck", json={"text": text}, headers=headers)


def _recorded(client: TestClient) -> tuple[int, int, int]:
    """The decision log's length, the review queue's, and the verdicts counted this hour."""
    decisions = client.app.state.decisions  # type: ignore[attr-defined]
    assert client.portal is not None
    counts = client.portal.call(decisions.counts)
    counted = sum(counts.last_hour(f"verdict:{v}") for v in ("accept", "review", "reject"))
    return client.portal.call(decisions.log_length), client.portal.call(decisions.queue_size), counted


def test_the_precheck_gives_the_verdict_and_the_spans_with_their_clauses(client):
    response = _precheck(client, DISGUISED)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["verdict"] == "reject"
    assert "obscene words" in body["notice"]
    assert body["spans"] == [
        {"start": 7, "end": 11, "text": "sh1t", "clause": "obscene", "tier": "reject", "term": "shit"},
        {
            "start": 22,
            "end": 29,
            "text": "dumbass",
            "clause": "personal",
            "tier": "review",
            "term": "dumbass",
        },
    ]
    assert [(r["clause"], r["start"], r["end"]) for r in body["reasons"]] == [
        ("obscene", 7, 11),
        ("personal", 22, 29),
    ]
    # No id, no token: nothing was recorded that could be read or appealed.
    assert not {"id", "status_token", "appeal_token"} & body.keys()
    # The same verdict /v1/moderate then gives.
    assert client.post("/v1/moderate", json={"text": DISGUISED}).json()["verdict"] == "reject"


def test_offsets_count_code_points_as_the_verdicts_do(client):
    text = "🌱🌱 sh1t"
    (span,) = _precheck(client, text).json()["spans"]
    assert text[span["start"] : span["end"]] == "sh1t" == span["text"]


def test_a_precheck_leaves_nothing_behind(make_client, redis_url, key_prefix, raw_redis):
    client = make_client(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    before = _recorded(client)
    for text in (DISGUISED, "Only a dumbass would.", "A kind word."):
        assert _precheck(client, text).status_code == 200
    assert _recorded(client) == before == (0, 0, 0)
    # Nothing in Redis but the pre-check's own rate-limit counters.
    assert {k for k in raw_redis.scan_iter(f"{key_prefix}*") if "precheck-limit" not in k} == set()
    # A decision is still counted and recorded as before.
    client.post("/v1/moderate", json={"text": DISGUISED})
    assert _recorded(client)[0] == 1


def test_the_precheck_refuses_what_moderate_refuses(client):
    assert _precheck(client, "   ").json()["error"]["code"] == "empty_text"
    too_long = _precheck(client, "a" * 10_001)
    assert (too_long.status_code, too_long.json()["error"]["code"]) == (422, "text_too_long")
    missing = client.post("/v1/precheck", json={})
    assert (missing.status_code, missing.json()["error"]["field"]) == (422, "text")
    wrong_type = client.post("/v1/precheck", content=b"text=hi", headers={"content-type": "text/plain"})
    assert wrong_type.status_code == 415


def test_a_precheck_body_larger_than_one_comment_is_413(client):
    body = b'{"text": "' + b"a" * (10_000 * 12 + 4096) + b'"}'
    response = client.post("/v1/precheck", content=body, headers={"content-type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (413, "payload_too_large")


def test_past_the_per_address_limit_the_answer_is_429_with_retry_after(make_client):
    client = make_client(PRECHECK_LIMIT_PER_IP="3/minute")
    assert [_precheck(client, "hello").status_code for _ in range(3)] == [200, 200, 200]
    refused = _precheck(client, "hello")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # /v1/moderate, the decision itself, is not limited by it.
    assert client.post("/v1/moderate", json={"text": "hello"}).status_code == 200


def test_a_site_is_limited_over_all_its_commenters(make_client):
    client = make_client(PRECHECK_LIMIT_PER_SITE="2/minute")
    key = issue_key(client, "news.example")
    other = issue_key(client, "other.example")
    assert [_precheck(client, "hi", **{"X-API-Key": key}).status_code for _ in range(3)] == [200, 200, 429]
    # Another site, and anonymous requests, count apart.
    assert _precheck(client, "hi", **{"X-API-Key": other}).status_code == 200
    assert _precheck(client, "hi").status_code == 200


def test_limits_are_shared_through_redis(make_client, redis_url, key_prefix, raw_redis):
    settings: dict[str, Any] = {
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": key_prefix,
        "PRECHECK_LIMIT_PER_IP": "2/minute",
    }
    first, second = make_client(**settings), make_client(**settings)  # two workers of one deployment
    assert _precheck(first, "hi").status_code == 200
    assert _precheck(second, "hi").status_code == 200
    assert _precheck(first, "hi").status_code == 429
    assert any(k.startswith(f"{key_prefix}precheck-limit") for k in raw_redis.scan_iter(f"{key_prefix}*"))


def test_with_redis_down_the_precheck_goes_ahead_unlimited(make_client):
    client = make_client(REDIS_URL="redis://127.0.0.1:1/0", PRECHECK_LIMIT_PER_IP="1/minute")
    assert [_precheck(client, "sh1t").status_code for _ in range(3)] == [200, 200, 200]
    assert _precheck(client, "sh1t").json()["verdict"] == "reject"


def test_a_refused_key_is_401_before_anything_else(make_client):
    client = make_client(REQUIRE_API_KEY=True)
    assert _precheck(client, "hi").json()["error"]["code"] == "missing_api_key"
    key = issue_key(client, "news.example")
    assert _precheck(client, "hi", **{"X-API-Key": key}).status_code == 200


def test_the_notice_is_the_policys(client):
    body = client.get("/v1/notice").json()
    assert (
        body["notice"] == "Kindly refrain from using derogatory, personal, or obscene words in your comments."
    )
    assert body["policy_version"]


@pytest.mark.parametrize("path", ["/v1/precheck", "/v1/notice"])
def test_the_widget_endpoints_are_in_the_openapi_document(client, path):
    assert path in client.get("/openapi.json").json()["paths"]


def test_the_model_is_left_out_unless_the_precheck_is_told_to_ask_it(make_client):
    insult = "You are a disgrace [[insult=0.95]]"
    scorer = MarkerScorer()
    word_list = make_client(scorer)
    alone = word_list.post("/v1/precheck", json={"text": insult}).json()
    assert (alone["verdict"], alone["model_consulted"], alone["reasons"]) == ("accept", False, [])
    assert word_list.post("/v1/precheck", json={"text": "sh1t"}).json()["verdict"] == "reject"
    assert scorer.texts_scored == 0
    # The comment itself is still judged with the model.
    assert word_list.post("/v1/moderate", json={"text": insult}).json()["verdict"] == "reject"
    with_model = make_client(PRECHECK_MODEL=True).post("/v1/precheck", json={"text": insult}).json()
    assert (with_model["verdict"], with_model["model_consulted"]) == ("reject", True)
