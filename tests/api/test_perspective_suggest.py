"""Perspective's comments:suggestscore through the ASGI app: kept in the suggestions' own capped store (a real
Redis here), every malformed suggestion refused in Perspective's envelope."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from service.review.suggestions import SuggestedSpan
from tests.support.redis_contents import contents_under

SUGGEST = "/v1alpha1/comments:suggestscore"


def suggest(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post(SUGGEST, content=json.dumps(body), headers={"Content-Type": "application/json"})


@pytest.fixture
def redis_client(make_client: Callable[..., TestClient], redis_url: str, key_prefix: str) -> TestClient:
    return make_client(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)


def test_a_suggestion_is_kept_under_its_own_prefix(
    redis_client: TestClient, raw_redis: redis.Redis, key_prefix: str
) -> None:
    body = {
        "comment": {"text": "You 😀 clown"},
        "attributeScores": {
            "INSULT": {
                "summaryScore": {"value": 0.9, "type": "PROBABILITY"},
                # UTF-16 offsets: the emoji is two code units, so "clown" is [7, 12).
                "spanScores": [{"begin": 7, "end": 12, "score": {"value": 1}}],
            },
            "TOXICITY": {"summaryScore": {"value": 0}},
        },
        "languages": ["en"],
        "communityId": "Coral:https://news.example",
        "clientToken": "comment:c9",
        "sessionId": "77",
    }
    response = suggest(redis_client, body)
    assert response.status_code == 200, response.text
    assert response.json() == {"clientToken": "comment:c9", "requestedLanguages": ["en"]}

    page = redis_client.portal.call(redis_client.app.state.suggestions.page)  # type: ignore[union-attr]
    (record,) = page.records
    kept = record.suggestion
    assert (kept.text, kept.scores, kept.community_id, kept.client_token, kept.session_id) == (
        "You 😀 clown",
        {"INSULT": 0.9, "TOXICITY": 0.0},
        "Coral:https://news.example",
        "comment:c9",
        "77",
    )
    assert kept.spans == {"INSULT": [SuggestedSpan(6, 11, 1.0)]}
    assert kept.text[6:11] == "clown"
    # Its own capped stream, beside (not in) the decision log.
    assert [k for k in contents_under(raw_redis, key_prefix)] == [f"{key_prefix}suggestions:log"]


OK_TEXT = {"comment": {"text": "You 😀 clown"}}


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ({"attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}}, "COMMENT_EMPTY", "comment.text"),
        ({**OK_TEXT}, "ATTRIBUTE_SCORES_EMPTY", "attributeScores"),
        (
            {**OK_TEXT, "attributeScores": {"TOXICITY": {}}},
            "ATTRIBUTE_SCORES_EMPTY",
            "attributeScores.TOXICITY",
        ),
        (
            {**OK_TEXT, "attributeScores": {"FLIRTATION": {"summaryScore": {"value": 1}}}},
            "UNKNOWN_ATTRIBUTE",
            "attributeScores.FLIRTATION",
        ),
        (
            {**OK_TEXT, "attributeScores": {"TOXICITY": {"summaryScore": {}}}},
            "INVALID_SCORE",
            "attributeScores.TOXICITY.summaryScore.value",
        ),
        (
            {**OK_TEXT, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 7}}}},
            "INVALID_SCORE",
            "attributeScores.TOXICITY.summaryScore.value",
        ),
        (
            {**OK_TEXT, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.5, "type": "RAW"}}}},
            "SCORE_TYPE_NOT_SUPPORTED",
            "attributeScores.TOXICITY.summaryScore.type",
        ),
        (
            {
                **OK_TEXT,
                "attributeScores": {"TOXICITY": {"spanScores": [{"begin": 0, "score": {"value": 1}}]}},
            },
            "INVALID_SPAN",
            "attributeScores.TOXICITY.spanScores.0",
        ),
        (
            {
                **OK_TEXT,
                "attributeScores": {
                    "TOXICITY": {"spanScores": [{"begin": 0, "end": 13, "score": {"value": 1}}]}
                },
            },
            "INVALID_SPAN",
            "attributeScores.TOXICITY.spanScores.0",
        ),
        (  # offset 5 falls between the two halves of the emoji
            {
                **OK_TEXT,
                "attributeScores": {
                    "TOXICITY": {"spanScores": [{"begin": 5, "end": 7, "score": {"value": 1}}]}
                },
            },
            "INVALID_SPAN",
            "attributeScores.TOXICITY.spanScores.0",
        ),
        (
            {
                **OK_TEXT,
                "attributeScores": {
                    "TOXICITY": {"spanScores": [{"begin": 4, "end": 4, "score": {"value": 1}}]}
                },
            },
            "INVALID_SPAN",
            "attributeScores.TOXICITY.spanScores.0",
        ),
        (
            {
                **OK_TEXT,
                "attributeScores": {
                    "TOXICITY": {"spanScores": [{"begin": 0, "end": 1, "score": {"value": 2}}]}
                },
            },
            "INVALID_SCORE",
            "attributeScores.TOXICITY.spanScores.0.score.value",
        ),
    ],
)
def test_malformed_suggestions_are_invalid_argument(
    client: TestClient, body: dict[str, Any], reason: str, field: str
) -> None:
    response = suggest(client, body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["code"], error["status"]) == (400, "INVALID_ARGUMENT")
    assert error["details"][0]["reason"] == reason
    assert error["details"][1]["fieldViolations"][0]["field"] == field
    assert client.portal.call(client.app.state.suggestions.length) == 0  # type: ignore[union-attr]


def test_too_many_spans_are_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(PERSPECTIVE_MAX_SPANS=2)
    spans = [{"begin": i, "end": i + 1, "score": {"value": 1}} for i in range(3)]
    response = suggest(client, {**OK_TEXT, "attributeScores": {"TOXICITY": {"spanScores": spans}}})
    assert response.json()["error"]["details"][0]["reason"] == "TOO_MANY_SPANS"


def test_a_store_outage_is_unavailable(make_client: Callable[..., TestClient]) -> None:
    # Nothing listens on port 1: the suggestions' store cannot be reached.
    client = make_client(REDIS_URL="redis://127.0.0.1:1/0")
    response = suggest(client, {**OK_TEXT, "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}}})
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert (error["status"], error["details"][0]["reason"]) == ("UNAVAILABLE", "STORE_UNAVAILABLE")
    assert response.headers["retry-after"] == "5"
