"""Perspective's comments:analyze through the ASGI app: Coral Talk's exact body, every attribute, spans,
languages, doNotStore against a real Redis, and every error in Perspective's envelope.

The marker scorer (tests/support/scorers.py) stands in for the model: ``[[insult=0.72]]`` in a text scores
that category; the word list is the real one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from service.model.base import NoModel
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.keys import issue_key, revoke_key
from tests.support.redis_contents import contents_under
from tests.support.scorers import FailingScorer, GatedScorer, MarkerScorer

ANALYZE = "/v1alpha1/comments:analyze"
#: Detoxify's `original` model: no sexual_explicit.
ORIGINAL_CATEGORIES = ("toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack")


def coral_body(text: str) -> bytes:
    """The body Coral Talk sends to a custom Perspective endpoint, byte for byte as its JSON.stringify writes
    it (server/src/core/server/services/comments/pipeline/phases/toxic.ts: comment, doNotStore,
    requestedAttributes with the site's model, languages from the tenant's locale)."""
    return (
        '{"comment":{"text":' + json.dumps(text) + '},"doNotStore":true,'
        '"requestedAttributes":{"TOXICITY":{}},"languages":["en"]}'
    ).encode()


def post_coral(client: TestClient, text: str, key: str = "site-key") -> Any:
    return client.post(
        f"{ANALYZE}?key={key}", content=coral_body(text), headers={"Content-Type": "application/json"}
    )


def analyze(client: TestClient, body: dict[str, Any], **params: str) -> Any:
    # Encoded here, ASCII only: a lone surrogate travels as the "\ud800" escape a JSON client would send.
    return client.post(
        ANALYZE, content=json.dumps(body), params=params, headers={"Content-Type": "application/json"}
    )


def ok(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    response = analyze(client, body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def summary(answer: dict[str, Any], attribute: str) -> float:
    score = answer["attributeScores"][attribute]["summaryScore"]
    assert score["type"] == "PROBABILITY"
    value: float = score["value"]
    return value


def problem(response: Any, status: int, status_name: str, reason: str) -> dict[str, Any]:
    """The error in Perspective's envelope, checked: HTTP status, code, status name, our reason."""
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) == {"code", "message", "status", "details"}
    assert (error["code"], error["status"]) == (status, status_name)
    info = [d for d in error["details"] if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
    assert [d["reason"] for d in info] == [reason]
    return error


def field_of(error: dict[str, Any]) -> str | None:
    for detail in error["details"]:
        if detail["@type"] == "type.googleapis.com/google.rpc.BadRequest":
            field: str = detail["fieldViolations"][0]["field"]
            return field
    return None


# -- Coral Talk ----------------------------------------------------------------------------------------------


def test_corals_exact_body_gets_the_score_coral_reads(client: TestClient) -> None:
    response = post_coral(client, "You are a disgrace [[toxicity=0.91]]")
    assert response.status_code == 200, response.text
    answer = response.json()
    # What Coral reads: data.attributeScores[model].summaryScore.value, compared with its threshold (0.8).
    assert answer["attributeScores"]["TOXICITY"]["summaryScore"] == {"value": 0.91, "type": "PROBABILITY"}
    assert answer == {
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0.91, "type": "PROBABILITY"}}},
        "languages": ["en"],
        "detectedLanguages": ["en"],
    }
    assert summary(post_coral(client, "What a thoughtful piece.").json(), "TOXICITY") == 0.01


def test_corals_suggestscore_body_is_kept(client: TestClient) -> None:
    # Coral's feedback for a comment its moderators rejected (services/perspective/perspective.ts).
    body = {
        "comment": {"text": "You are a disgrace"},
        "context": {
            "entries": [
                {"text": json.dumps({"url": "https://news.example/a?commentID=c1", "Coral_comment_id": "c1"})}
            ]
        },
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}},
        "languages": ["en"],
        "communityId": "Coral:https://news.example",
        "clientToken": "comment:c1",
    }
    response = client.post("/v1alpha1/comments:suggestscore?key=site-key", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {"clientToken": "comment:c1", "requestedLanguages": ["en"]}


# -- attributes ----------------------------------------------------------------------------------------------


def test_each_attribute_is_its_detoxify_category(client: TestClient) -> None:
    markers = {
        "TOXICITY": "toxicity=0.11",
        "SEVERE_TOXICITY": "severe_toxicity=0.12",
        "IDENTITY_ATTACK": "identity_attack=0.13",
        "INSULT": "insult=0.14",
        "THREAT": "threat=0.15",
        "SEXUALLY_EXPLICIT": "sexual_explicit=0.16",
        "PROFANITY": "obscene=0.17",
    }
    text = "A comment " + " ".join(f"[[{m}]]" for m in markers.values())
    answer = ok(client, {"comment": {"text": text}, "requestedAttributes": {a: {} for a in markers}})
    assert {a: summary(answer, a) for a in markers} == {a: float(m.split("=")[1]) for a, m in markers.items()}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nothing listed here [[obscene=0.3]]", 0.3),  # the model alone
        ("What a fucking mess [[obscene=0.3]]", 1.0),  # a word of the reject tier
        (
            "Feck off then [[obscene=0.3]]",
            0.85,
        ),  # a word of the review tier: PERSPECTIVE_PROFANITY_REVIEW_SCORE
        ("Feck off then [[obscene=0.95]]", 0.95),  # the model above the review tier's score
    ],
)
def test_profanity_is_the_highest_of_obscene_and_the_word_list(
    client: TestClient, text: str, expected: float
) -> None:
    answer = ok(client, {"comment": {"text": text}, "requestedAttributes": {"PROFANITY": {}}})
    assert summary(answer, "PROFANITY") == expected


def test_a_threshold_leaves_out_lower_scores_and_score_types_must_be_probability(client: TestClient) -> None:
    body = {
        "comment": {"text": "Hmm [[insult=0.6]] [[threat=0.2]]"},
        "requestedAttributes": {
            "INSULT": {"scoreThreshold": 0.5, "scoreType": "PROBABILITY"},
            "THREAT": {"scoreThreshold": 0.5},
            "TOXICITY": {"scoreType": "SCORE_TYPE_UNSPECIFIED"},
        },
    }
    answer = ok(client, body)
    assert set(answer["attributeScores"]) == {"INSULT", "TOXICITY"}
    for score_type in ("STD_DEV_SCORE", "PERCENTILE", "RAW"):
        body["requestedAttributes"] = {"INSULT": {"scoreType": score_type}}
        error = problem(analyze(client, body), 400, "INVALID_ARGUMENT", "SCORE_TYPE_NOT_SUPPORTED")
        assert field_of(error) == "requestedAttributes.INSULT.scoreType"


def test_an_attribute_the_model_lacks_is_refused_or_dropped(make_client: Callable[..., TestClient]) -> None:
    client = make_client(MarkerScorer(categories=ORIGINAL_CATEGORIES))
    body: dict[str, Any] = {
        "comment": {"text": "Hello there."},
        "requestedAttributes": {"SEXUALLY_EXPLICIT": {}, "TOXICITY": {}},
    }
    error = problem(analyze(client, body), 400, "INVALID_ARGUMENT", "ATTRIBUTE_NOT_AVAILABLE")
    assert "sexual_explicit" in error["message"]
    assert set(ok(client, {**body, "dropUnsupportedAttributes": True})["attributeScores"]) == {"TOXICITY"}


def test_without_a_model_profanity_comes_from_the_word_list(make_client: Callable[..., TestClient]) -> None:
    client = make_client(NoModel())
    answer = ok(
        client, {"comment": {"text": "What a fucking mess."}, "requestedAttributes": {"PROFANITY": {}}}
    )
    assert summary(answer, "PROFANITY") == 1.0
    body = {"comment": {"text": "A fine day."}, "requestedAttributes": {"TOXICITY": {}}}
    problem(analyze(client, body), 400, "INVALID_ARGUMENT", "ATTRIBUTE_NOT_AVAILABLE")


def test_client_token_is_echoed_and_perspectives_other_fields_accepted(client: TestClient) -> None:
    body = {
        "comment": {"text": "Hello there.", "type": "PLAIN_TEXT"},
        "requestedAttributes": {"TOXICITY": None},
        "clientToken": "token-7",
        "sessionId": "1234567890",
        "communityId": "Coral:https://news.example",
        "context": {"entries": [{"text": "the article"}]},
        "someFutureField": {"ignored": True},
    }
    answer = ok(client, body)
    assert answer["clientToken"] == "token-7" and summary(answer, "TOXICITY") == 0.01


# -- spans ---------------------------------------------------------------------------------------------------


def test_span_scores_per_sentence_in_utf16_offsets_scored_in_one_submission(
    make_client: Callable[..., TestClient],
) -> None:
    scorer = MarkerScorer()
    client = make_client(scorer)
    # The emoji is two UTF-16 code units: every offset after it is one more than Python's.
    first, second, third = "😀 You idiot [[insult=0.9]].", "Nice day!", "Really?"
    text = f"{first} {second}\n{third}"
    answer = ok(
        client,
        {"comment": {"text": text}, "requestedAttributes": {"INSULT": {}}, "spanAnnotations": True},
    )
    begin2 = len(first) + 1 + 1
    begin3 = begin2 + len(second) + 1
    assert answer["attributeScores"]["INSULT"]["spanScores"] == [
        {"begin": 0, "end": len(first) + 1, "score": {"value": 0.9, "type": "PROBABILITY"}},
        {"begin": begin2, "end": begin2 + len(second), "score": {"value": 0.01, "type": "PROBABILITY"}},
        {"begin": begin3, "end": begin3 + len(third), "score": {"value": 0.01, "type": "PROBABILITY"}},
    ]
    assert text.encode("utf-16-le")[2 * begin2 : 2 * (begin2 + len(second))].decode("utf-16-le") == second
    # The comment and its three sentences went to the model in one call.
    assert sorted(scorer.calls[-1]) == sorted([text, first, second, third])


def test_profanity_spans_take_the_word_list_and_mark_each_listed_word(client: TestClient) -> None:
    text = "Well. What a fucking mess."
    answer = ok(
        client,
        {"comment": {"text": text}, "requestedAttributes": {"PROFANITY": {}}, "spanAnnotations": True},
    )
    start = text.index("fucking")
    spans = [
        (s["begin"], s["end"], s["score"]["value"])
        for s in answer["attributeScores"]["PROFANITY"]["spanScores"]
    ]
    assert spans == [(0, 5, 0.01), (6, len(text), 1.0), (start, start + len("fucking"), 1.0)]


def test_a_one_sentence_comment_is_its_own_span_without_a_second_model_input(
    make_client: Callable[..., TestClient],
) -> None:
    scorer = MarkerScorer()
    client = make_client(scorer)
    answer = ok(
        client,
        {
            "comment": {"text": "  Just one [[threat=0.4]] "},
            "requestedAttributes": {"THREAT": {}},
            "spanAnnotations": True,
        },
    )
    assert answer["attributeScores"]["THREAT"]["spanScores"] == [
        {"begin": 2, "end": 25, "score": {"value": 0.4, "type": "PROBABILITY"}}
    ]
    assert scorer.texts_scored == 1


def test_a_long_comment_has_at_most_max_spans(make_client: Callable[..., TestClient]) -> None:
    scorer = MarkerScorer()
    client = make_client(scorer, PERSPECTIVE_MAX_SPANS=3)
    text = " ".join(f"Sentence {i}." for i in range(10))
    answer = ok(
        client, {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}, "spanAnnotations": True}
    )
    spans = [(s["begin"], s["end"]) for s in answer["attributeScores"]["TOXICITY"]["spanScores"]]
    # Ten sentences in runs of four: the whole text covered, in three spans.
    assert spans == [(0, 47), (48, 95), (96, len(text))]
    assert scorer.texts_scored == 1 + 3


def test_span_scores_below_the_threshold_are_left_out(client: TestClient) -> None:
    body = {
        "comment": {"text": "Fine. You idiot [[insult=0.9]]."},
        "requestedAttributes": {"INSULT": {"scoreThreshold": 0.5}},
        "spanAnnotations": True,
    }
    spans = ok(client, body)["attributeScores"]["INSULT"]["spanScores"]
    assert [(s["begin"], s["score"]["value"]) for s in spans] == [(6, 0.9)]


# -- languages -----------------------------------------------------------------------------------------------


def test_languages_follow_the_model(make_client: Callable[..., TestClient]) -> None:
    english = make_client(MarkerScorer(model_id="bert-base:000000000000"))
    body: dict[str, Any] = {"comment": {"text": "Bonjour."}, "requestedAttributes": {"TOXICITY": {}}}
    for tags in (["en"], ["en-US"], ["EN_gb"]):
        assert ok(english, {**body, "languages": tags})["languages"] == tags
    error = problem(
        analyze(english, {**body, "languages": ["en", "fr"]}),
        400,
        "INVALID_ARGUMENT",
        "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
    )
    assert error["message"].startswith("Attribute TOXICITY does not support request languages: fr.")
    assert field_of(error) == "languages"
    dropped = ok(english, {**body, "languages": ["fr"], "dropUnsupportedAttributes": True})
    assert dropped["attributeScores"] == {}

    multilingual = make_client(MarkerScorer(model_id="multilingual_debiased-0b549669:000000000000"))
    for tag in ("en", "fr", "es", "it", "pt", "tr", "ru"):
        assert summary(ok(multilingual, {**body, "languages": [tag]}), "TOXICITY") == 0.01
    problem(
        analyze(multilingual, {**body, "languages": ["de"]}),
        400,
        "INVALID_ARGUMENT",
        "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
    )


def test_without_languages_the_comment_is_taken_as_english(client: TestClient) -> None:
    answer = ok(client, {"comment": {"text": "Hello."}, "requestedAttributes": {"TOXICITY": {}}})
    assert (answer["languages"], answer["detectedLanguages"]) == (["en"], ["en"])


# -- doNotStore against a real Redis -------------------------------------------------------------------------


@pytest.fixture
def redis_client(
    make_client: Callable[..., TestClient], redis_url: str, key_prefix: str
) -> tuple[TestClient, MarkerScorer]:
    scorer = MarkerScorer()
    return make_client(scorer, REDIS_URL=redis_url, REDIS_PREFIX=key_prefix), scorer


#: One comment per verdict: accepted, sent to review, rejected; each one distinctive enough to find anywhere.
PRIVATE = [
    "Private note 7f3a9 about the council meeting.",
    "Private note 7f3a9 you are a clown [[insult=0.6]]",
    "Private note 7f3a9 what a fucking mess.",
]


def test_do_not_store_leaves_nothing_of_the_text_in_redis_only_counters(
    redis_client: tuple[TestClient, MarkerScorer], raw_redis: redis.Redis, key_prefix: str
) -> None:
    client, _ = redis_client
    for text in PRIVATE:
        assert post_coral(client, text).status_code == 200
    stored = contents_under(raw_redis, key_prefix)
    assert stored, "the counters should be there"
    assert all(key.startswith(f"{key_prefix}count:") for key in stored), sorted(stored)
    assert not [key for key, value in stored.items() if "7f3a9" in value]
    # Counted like any comment: one of each verdict, this minute.
    verdicts = {
        key.rsplit(":", 1)[1]: value for key, value in stored.items() if ":m:" in key and ":verdict:" in key
    }
    assert verdicts == {"accept": "1", "review": "1", "reject": "1"}
    assert client.app.state.pipeline.stats.record_errors == 0

    # The same comments without doNotStore are cached, given statuses, logged and queued: what the scan above
    # would have found.
    for text in PRIVATE:
        body = json.loads(coral_body(text))
        assert ok(client, {**body, "doNotStore": False})
    stored = contents_under(raw_redis, key_prefix)
    kinds = {key[len(key_prefix) :].split(":", 1)[0] for key in stored}
    assert kinds >= {"verdict", "comment", "log", "review", "count"}
    with_text = {key[len(key_prefix) :].split(":", 1)[0] for key, value in stored.items() if "7f3a9" in value}
    assert with_text == {"comment", "log"}


def test_do_not_store_may_read_the_cache_but_never_fills_it(
    redis_client: tuple[TestClient, MarkerScorer], raw_redis: redis.Redis, key_prefix: str
) -> None:
    client, scorer = redis_client
    text = "Private note 7f3a9, twice."
    post_coral(client, text)
    post_coral(client, text)
    assert scorer.texts_scored == 2  # nothing cached the first time
    assert not [k for k in contents_under(raw_redis, key_prefix) if k.startswith(f"{key_prefix}verdict:")]
    body = json.loads(coral_body(text))
    ok(client, {**body, "doNotStore": False})
    post_coral(client, text)
    assert scorer.texts_scored == 3  # the stored request's verdict answers the next one


def test_a_stored_comment_reaches_the_review_queue(make_client: Callable[..., TestClient]) -> None:
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)
    ok(client, {"comment": {"text": "You are a clown [[insult=0.6]]"}, "requestedAttributes": {"INSULT": {}}})
    login(client)
    queue = client.get("/v1/review").json()
    assert [item["entry"]["text"] for item in queue["items"]] == ["You are a clown [[insult=0.6]]"]


# -- errors in Perspective's envelope ------------------------------------------------------------------------

ATTRS = {"requestedAttributes": {"TOXICITY": {}}}


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ({"comment": {"text": ""}, **ATTRS}, "COMMENT_EMPTY", "comment.text"),
        ({"comment": {"text": " \n\t "}, **ATTRS}, "COMMENT_EMPTY", "comment.text"),
        (ATTRS, "COMMENT_EMPTY", "comment.text"),
        ({"comment": {"text": "é" * 10_241}, **ATTRS}, "COMMENT_TOO_LONG", "comment.text"),
        ({"comment": {"text": "\ud800 lone"}, **ATTRS}, "INVALID_TEXT", "comment.text"),
        ({"comment": {"text": "Hello."}}, "NO_REQUESTED_ATTRIBUTES", "requestedAttributes"),
        (
            {"comment": {"text": "Hello."}, "requestedAttributes": {}},
            "NO_REQUESTED_ATTRIBUTES",
            "requestedAttributes",
        ),
        (
            {"comment": {"text": "Hello."}, "requestedAttributes": {"FLIRTATION": {}}},
            "UNKNOWN_ATTRIBUTE",
            "requestedAttributes.FLIRTATION",
        ),
        (
            {"comment": {"text": "Hello."}, "requestedAttributes": {"toxicity": {}}},
            "UNKNOWN_ATTRIBUTE",
            "requestedAttributes.toxicity",
        ),
        (
            {"comment": {"text": "Hello."}, **ATTRS, "languages": ["de"]},
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            "languages",
        ),
        (
            {"comment": {"text": "Hello."}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1.5}}},
            "INVALID_FIELD",
            "requestedAttributes.TOXICITY.scoreThreshold",
        ),
        ({"comment": {"text": "Hello.", "type": "MARKDOWN"}, **ATTRS}, "INVALID_FIELD", "comment.type"),
        ({"comment": "Hello.", **ATTRS}, "INVALID_FIELD", "comment"),
    ],
)
def test_bad_requests_are_invalid_argument(
    client: TestClient, body: dict[str, Any], reason: str, field: str
) -> None:
    error = problem(analyze(client, body), 400, "INVALID_ARGUMENT", reason)
    assert field_of(error) == field


def test_the_size_limit_is_perspectives_20_kb_of_utf8(client: TestClient) -> None:
    at_limit = "é" * 10_240  # 20,480 bytes, 10,240 characters
    assert summary(ok(client, {"comment": {"text": at_limit}, **ATTRS}), "TOXICITY") == 0.01
    error = problem(
        analyze(client, {"comment": {"text": at_limit + "a"}, **ATTRS}),
        400,
        "INVALID_ARGUMENT",
        "COMMENT_TOO_LONG",
    )
    assert error["message"] == "Comment text was too many bytes. Value (20481) exceeded limit (20480)."


def test_malformed_json_wrong_media_type_and_oversized_bodies(client: TestClient) -> None:
    bad = client.post(ANALYZE, content=b'{"comment": {', headers={"Content-Type": "application/json"})
    problem(bad, 400, "INVALID_ARGUMENT", "INVALID_JSON")
    not_json = client.post(
        ANALYZE, content=b"text=hi", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    problem(not_json, 415, "INVALID_ARGUMENT", "UNSUPPORTED_MEDIA_TYPE")
    limit = client.app.state.settings.perspective_max_body_bytes
    huge = client.post(ANALYZE, content=b" " * (limit + 1), headers={"Content-Type": "application/json"})
    problem(huge, 413, "INVALID_ARGUMENT", "PAYLOAD_TOO_LARGE")
    # A comment at the limit, every character escaped as JSON allows, still fits the body limit.
    escaped = json.dumps({"comment": {"text": "\x01" * 20_480}, **ATTRS}).encode()
    assert len(escaped) <= limit
    assert (
        client.post(ANALYZE, content=escaped, headers={"Content-Type": "application/json"}).status_code == 200
    )


def test_overload_is_unavailable_with_retry_info(make_client: Callable[..., TestClient]) -> None:
    scorer = GatedScorer()
    client = make_client(scorer, QUEUE_MAX=1, BATCH_MAX_SIZE=1, BATCH_MAX_WAIT_MS=0, RETRY_AFTER_S=3)
    batcher = client.app.state.pipeline.batcher
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda t=t: answers.append(post_coral(client, t).status_code))
        for t in ("first", "second")
    ]
    threads[0].start()
    assert scorer.entered.wait(10)
    threads[1].start()
    deadline = time.monotonic() + 10
    while batcher.waiting != 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    refused = post_coral(client, "one too many")
    error = problem(refused, 503, "UNAVAILABLE", "OVERLOADED")
    assert refused.headers["retry-after"] == "3"
    assert {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"} in error["details"]
    scorer.release.set()
    for thread in threads:
        thread.join(10)
    assert answers == [200, 200]


def test_a_model_failure_is_unavailable_not_a_made_up_score(make_client: Callable[..., TestClient]) -> None:
    client = make_client(FailingScorer(), RETRY_AFTER_S=2)
    response = post_coral(client, "A perfectly nice comment.")
    problem(response, 503, "UNAVAILABLE", "MODEL_UNAVAILABLE")
    assert response.headers["retry-after"] == "2"


class BreaksAfterFirstCall(MarkerScorer):
    """Scores its first call, then fails every later one: a model that broke after a verdict was cached."""

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        if self.calls:
            super().score(texts)
            raise RuntimeError("simulated inference failure")
        return super().score(texts)


def test_spans_the_model_failed_on_are_unavailable_even_for_a_cached_comment(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(BreaksAfterFirstCall())
    body: dict[str, Any] = {
        "comment": {"text": "One [[insult=0.9]]. Two."},
        "requestedAttributes": {"INSULT": {}},
    }
    assert summary(ok(client, body), "INSULT") == 0.9  # scored, and cached
    assert summary(ok(client, body), "INSULT") == 0.9  # from the cache: the model is not asked
    # The sentences need the model, which now fails: no span may pretend to be the comment's score.
    problem(analyze(client, {**body, "spanAnnotations": True}), 503, "UNAVAILABLE", "MODEL_UNAVAILABLE")


def test_routing_errors_stay_in_our_shape(client: TestClient) -> None:
    response = client.get(ANALYZE)
    assert response.status_code == 405 and response.json()["error"]["code"] == "method_not_allowed"


# -- API keys (issue 13, part 1: these run once keys exist) ----------------------------------------------------


def test_the_key_in_the_query_names_the_site(redis_client: tuple[TestClient, MarkerScorer]) -> None:
    client, _ = redis_client
    key = issue_key(client, "news.example")
    ok_response = client.post(
        ANALYZE,
        params={"key": key},
        json={"comment": {"text": "Clown [[insult=0.6]]"}, "requestedAttributes": {"INSULT": {}}},
    )
    assert ok_response.status_code == 200
    revoke_key(client, key)
    refused = post_coral(client, "Hello.", key=key)
    problem(refused, 400, "INVALID_ARGUMENT", "API_KEY_INVALID")


def test_a_missing_key_is_permission_denied_where_keys_are_required(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(MarkerScorer(), REQUIRE_API_KEY=True)
    issue_key(client, "news.example")
    response = client.post(
        ANALYZE, content=coral_body("Hello."), headers={"Content-Type": "application/json"}
    )
    problem(response, 403, "PERMISSION_DENIED", "API_KEY_MISSING")
    wrong = post_coral(client, "Hello.", key="not-a-key")
    problem(wrong, 400, "INVALID_ARGUMENT", "API_KEY_INVALID")


def test_the_openapi_document_declares_perspectives_error_shape(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path in (ANALYZE, "/v1alpha1/comments:suggestscore"):
        responses = doc["paths"][path]["post"]["responses"]
        for status in ("400", "403", "413", "415", "503"):
            assert responses[status]["content"]["application/json"]["schema"]["$ref"].endswith(
                "/ErrorEnvelope"
            )
