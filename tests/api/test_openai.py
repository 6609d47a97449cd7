"""OpenAI's moderation endpoint, driven by OpenAI's own Python client (`openai`) through the real ASGI app: the
real word list and policy, the deterministic MarkerScorer for the model, a real Redis where the test says so.

The client validates every answer against its own response types (`_strict_response_validation`), so an
answer missing a key, or with a value of the wrong type, fails the test where a site's code would break.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from service.api.errors import ApiProblem
from service.api.openai_moderation import OPENAI_CATEGORIES, openai_shape
from service.model.base import UNBIASED_CATEGORIES
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.keys import issue_key, revoke_key
from tests.support.scorers import FailingScorer, GatedScorer, MarkerScorer

MakeClient = Callable[..., TestClient]

#: The SDK's own answer types, with their OpenAI names (harassment/threatening, ...) as keys.
EVERY_CATEGORY = {
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
}


def sdk(
    client: TestClient, *, base: str = "/v1", api_key: str = "any-key", max_retries: int = 0
) -> openai.OpenAI:
    """OpenAI's client, sending through `client` (the app's TestClient, an httpx.Client) to `base`."""
    return openai.OpenAI(
        base_url=f"http://testserver{base}",
        api_key=api_key,
        http_client=client,
        max_retries=max_retries,
        _strict_response_validation=True,
    )


def as_json(result: Any) -> dict[str, Any]:
    """One result as it went over the wire (OpenAI's key names)."""
    dumped: dict[str, Any] = result.model_dump(by_alias=True)
    return dumped


def flagged_categories(result: Any) -> set[str]:
    return {name for name, on in as_json(result)["categories"].items() if on}


# -- what a site gets ---------------------------------------------------------------------------------------------


def test_a_string_gets_one_result_with_every_category(make_client: MakeClient) -> None:
    scorer = MarkerScorer()
    client = make_client(scorer)
    answer = sdk(client).moderations.create(input="What a thoughtful article, thank you.")
    assert answer.id.startswith("modr-") and len(answer.id) == 5 + 32
    assert answer.model == scorer.model_id  # the model that ran, not a name the client asked for
    (result,) = answer.results
    wire = as_json(result)
    assert result.flagged is False
    for part in ("categories", "category_scores", "category_applied_input_types"):
        assert set(wire[part]) == EVERY_CATEGORY, part
    assert not any(wire["categories"].values())
    # The model's 0.01 where Detoxify has the category, 0.0 where it has nothing.
    assert wire["category_scores"]["harassment"] == 0.01 and wire["category_scores"]["self-harm"] == 0.0
    assert wire["category_applied_input_types"]["harassment"] == ["text"]
    assert wire["category_applied_input_types"]["self-harm"] == []


def test_an_array_of_strings_gets_one_result_each_in_order(make_client: MakeClient) -> None:
    client = make_client()
    texts = ["A kind word.", "What a fucking mess.", "Hmm [[insult=0.6]]", "Fine by me."]
    answer = sdk(client).moderations.create(input=texts, model="omni-moderation-latest")
    assert [r.flagged for r in answer.results] == [False, True, True, False]
    assert flagged_categories(answer.results[2]) == {"harassment"}


def test_text_parts_are_one_input_and_one_comment(make_client: MakeClient) -> None:
    scorer = MarkerScorer()
    client = make_client(scorer)
    answer = sdk(client).moderations.create(
        input=[{"type": "text", "text": "You are"}, {"type": "text", "text": "an [[insult=0.9]] idiot"}]
    )
    (result,) = answer.results  # OpenAI answers a multi-modal input with one result
    assert result.flagged and flagged_categories(result) == {"harassment"}
    assert result.category_scores.harassment == 0.9
    assert scorer.calls[-1] == ["You are\nan [[insult=0.9]] idiot"]


def test_the_sdk_reaches_both_paths(make_client: MakeClient) -> None:
    client = make_client()
    for base in ("/v1", ""):  # base_url with and without /v1: the SDK appends /moderations
        answer = sdk(client, base=base).moderations.create(input="You [[threat=0.9]]")
        assert answer.results[0].flagged, base


# -- the mapping table -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "flagged", "categories"),
    [
        ("A kind word.", False, set()),
        ("You are an [[insult=0.9]]", True, {"harassment"}),
        ("Hmm [[insult=0.6]]", True, {"harassment"}),  # a review counts: the comment is held back
        ("I will [[threat=0.9]]", True, {"harassment/threatening", "violence"}),
        ("Those [[identity_attack=0.9]]", True, {"hate"}),
        (
            "Those [[identity_attack=0.9]] will [[threat=0.8]]",
            True,
            {"hate", "hate/threatening", "harassment/threatening", "violence"},
        ),
        ("[[sexual_explicit=0.9]]", True, {"sexual"}),
        ("You faggot.", True, {"hate"}),  # a listed slur, whatever the model scored
        ("What a fucking mess.", True, set()),  # obscene words: OpenAI has no category for them
        ("Meh [[toxicity=0.9]]", True, set()),  # general toxicity: a review with no OpenAI category
        ("[[obscene=0.9]]", True, set()),
    ],
)
def test_categories_follow_the_table(
    make_client: MakeClient, text: str, flagged: bool, categories: set[str]
) -> None:
    (result,) = sdk(make_client()).moderations.create(input=text).results
    assert result.flagged is flagged
    assert flagged_categories(result) == categories


def test_scores_come_from_the_detoxify_categories_in_the_table(make_client: MakeClient) -> None:
    text = (
        "[[insult=0.11]] [[threat=0.22]] [[identity_attack=0.33]] [[sexual_explicit=0.44]] [[toxicity=0.55]] "
        "[[severe_toxicity=0.12]] [[obscene=0.13]]"
    )
    (result,) = sdk(make_client()).moderations.create(input=text).results
    assert as_json(result)["category_scores"] == {
        "harassment": 0.11,
        "harassment/threatening": 0.22,
        "hate": 0.33,
        "hate/threatening": 0.22,  # both must hold: the lower of identity_attack and threat
        "illicit": 0.0,
        "illicit/violent": 0.0,
        "self-harm": 0.0,
        "self-harm/intent": 0.0,
        "self-harm/instructions": 0.0,
        "sexual": 0.44,
        "sexual/minors": 0.0,
        "violence": 0.22,
        "violence/graphic": 0.0,
    }


def test_flagged_agrees_with_our_own_verdict(make_client: MakeClient) -> None:
    # Two apps, so neither answer comes from the other's verdict cache.
    ours, theirs = make_client(), make_client()
    texts = [
        "A kind word.",
        "What a fucking mess.",
        "Hmm [[insult=0.6]]",
        "[[toxicity=0.85]]",
        "[[toxicity=0.75]]",
        "[[severe_toxicity=0.5]]",
        "You faggot.",
        "[[identity_attack=0.4]]",
        "Fine [[threat=0.49]]",
    ]
    verdicts = [ours.post("/v1/moderate", json={"text": t}).json()["verdict"] for t in texts]
    flagged = [r.flagged for r in sdk(theirs).moderations.create(input=texts).results]
    assert flagged == [v != "accept" for v in verdicts]
    assert set(verdicts) == {"accept", "review", "reject"}


def test_a_model_without_a_category_scores_it_zero_and_says_it_was_not_applied(
    make_client: MakeClient,
) -> None:
    # Detoxify's `original` model has no sexual_explicit.
    original = MarkerScorer(categories=[c for c in UNBIASED_CATEGORIES if c != "sexual_explicit"])
    (result,) = sdk(make_client(original)).moderations.create(input="[[sexual_explicit=0.9]]").results
    wire = as_json(result)
    assert wire["category_scores"]["sexual"] == 0.0 and wire["categories"]["sexual"] is False
    assert wire["category_applied_input_types"]["sexual"] == []
    assert wire["category_applied_input_types"]["harassment"] == ["text"]


def test_a_failed_model_is_flagged_for_review_with_only_the_word_lists_categories_applied(
    make_client: MakeClient,
) -> None:
    (result,) = sdk(make_client(FailingScorer())).moderations.create(input="A kind word.").results
    wire = as_json(result)
    assert result.flagged is True  # our verdict: review (model_unavailable)
    assert not any(wire["categories"].values()) and not any(wire["category_scores"].values())
    applied = {name for name, types in wire["category_applied_input_types"].items() if types}
    assert applied == {"hate"}  # the word list still looked for slurs


# -- the same pipeline as /v1/moderate -------------------------------------------------------------------------


def test_the_door_shares_the_verdict_cache_decision_log_and_review_queue(
    make_client: MakeClient, redis_url: str, key_prefix: str
) -> None:
    scorer = MarkerScorer()
    client = make_client(scorer, REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD)
    assert client.post("/v1/moderate", json={"text": "What a fucking mess."}).status_code == 200
    scored = scorer.texts_scored

    answer = sdk(client).moderations.create(input=["What a fucking mess.", "Hmm [[insult=0.6]]"])
    assert scorer.texts_scored == scored + 1  # the first came from the verdict cache /v1/moderate filled

    login(client)
    logged = {e["comment_id"]: e for e in client.get("/v1/review/log").json()["entries"]}
    first, second = f"{answer.id}-0", f"{answer.id}-1"
    # The log keeps rejections and reviews, each under the id `<response id>-<input>` the webhook will name.
    assert logged[first]["verdict"] == "reject" and logged[first]["text"] == "What a fucking mess."
    assert logged[second]["verdict"] == "review"
    queue = client.get("/v1/review").json()
    assert [item["comment_id"] for item in queue["items"]] == [second]


# -- errors, in OpenAI's envelope, as the SDK raises them ---------------------------------------------------------


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("given", "param", "code"),
    [
        ("", "input", "empty_input"),
        ("   \n", "input", "empty_input"),
        ([], "input", "empty_input"),
        (["fine", "  "], "input[1]", "empty_input"),
        (["fine", 3], "input[1]", "invalid_value"),
        (["fine", {"type": "text", "text": "x"}], "input[1]", "invalid_value"),
        ([{"type": "text", "text": "x"}, "fine"], "input[1]", "invalid_value"),
        (
            [{"type": "image_url", "image_url": {"url": "https://example.org/a.png"}}],
            "input[0]",
            "image_input_unsupported",
        ),
        (
            [
                {"type": "text", "text": "look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},
            ],
            "input[1]",
            "image_input_unsupported",
        ),
        ([{"type": "audio", "text": "x"}], "input[0].type", "invalid_value"),
        ([{"type": "text"}], "input[0].text", "invalid_value"),
        ([{"type": "text", "text": 7}], "input[0].text", "invalid_value"),
        ([{"type": "text", "text": " "}, {"type": "text", "text": ""}], "input", "empty_input"),
        ("x" * 41, "input", "input_too_long"),
        (["ok", "x" * 41], "input[1]", "input_too_long"),
        (["ok"] * 6, "input", "too_many_inputs"),
    ],
)
def test_bad_inputs_are_400_naming_the_input(
    make_client: MakeClient, given: Any, param: str, code: str
) -> None:
    client = make_client(MAX_CHARS=40, MAX_BATCH=5)
    with pytest.raises(openai.BadRequestError) as raised:
        sdk(client).moderations.create(input=given)
    error = error_of(raised.value)
    assert (raised.value.status_code, error["type"], error["param"], error["code"]) == (
        400,
        "invalid_request_error",
        param,
        code,
    )


@pytest.mark.parametrize(
    ("content", "param", "code"),
    [
        (b"{not json", None, "invalid_json"),
        (b"\xff\xfe", None, "invalid_json"),
        (b"[]", None, "invalid_value"),
        (b'"text"', None, "invalid_value"),
        (b"{}", "input", "missing_required_parameter"),
        (b'{"input": null}', "input", "invalid_value"),
        (b'{"input": {"type": "text", "text": "x"}}', "input", "invalid_value"),
        (b'{"input": "fine", "model": 4}', "model", "invalid_value"),
        # JSON can carry a lone surrogate that no client library would send (the SDK cannot encode one).
        (b'{"input": ["fine", "lone \\ud800"]}', "input[1]", "invalid_text"),
    ],
)
def test_bad_bodies_are_400_in_openais_shape(
    make_client: MakeClient, content: bytes, param: str | None, code: str
) -> None:
    client = make_client()
    for path in ("/v1/moderations", "/moderations"):
        r = client.post(path, content=content, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (path, r.text)
        assert r.json() == {
            "error": {
                "message": r.json()["error"]["message"],
                "type": "invalid_request_error",
                "param": param,
                "code": code,
            }
        }


def test_a_body_not_sent_as_json_is_400_as_openai_answers_it(make_client: MakeClient) -> None:
    r = make_client().post("/v1/moderations", content=b"input=hello", headers={"Content-Type": "text/plain"})
    assert r.status_code == 400
    assert (
        r.json()["error"]["code"] == "unsupported_media_type"
        and "application/json" in r.json()["error"]["message"]
    )


def test_a_body_over_the_limit_is_413_in_openais_shape(make_client: MakeClient) -> None:
    client = make_client(MAX_CHARS=10, MAX_BATCH=1)  # max_body_bytes: 8,312
    limit = client.app.state.settings.max_body_bytes
    with pytest.raises(openai.APIStatusError) as raised:
        sdk(client).moderations.create(input="x" * (limit + 1))
    assert raised.value.status_code == 413
    assert error_of(raised.value)["code"] == "payload_too_large"
    # Sent in chunks without a Content-Length, it is counted as it arrives and cut off at the limit.
    chunked = client.post(
        "/moderations",
        content=iter([b'{"input": "', b"x" * limit, b'"}']),
        headers={"Content-Type": "application/json"},
    )
    assert chunked.status_code == 413 and chunked.json()["error"]["type"] == "invalid_request_error"


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def _fill_the_queue(client: TestClient, scorer: GatedScorer) -> list[threading.Thread]:
    """Hold the model busy with one comment and queue a second, so the queue (QUEUE_MAX=1) is full."""
    threads = [
        threading.Thread(target=client.post, args=("/v1/moderate",), kwargs={"json": {"text": f"holds {n}"}})
        for n in ("running", "queued")
    ]
    threads[0].start()
    assert scorer.entered.wait(10)
    threads[1].start()
    _wait_for(lambda: client.app.state.pipeline.batcher.waiting == 1)
    return threads


def test_a_full_queue_is_503_with_retry_after_in_openais_shape(make_client: MakeClient) -> None:
    scorer = GatedScorer()
    client = make_client(scorer, QUEUE_MAX=1, BATCH_MAX_SIZE=1, BATCH_MAX_WAIT_MS=0, RETRY_AFTER_S=3)
    threads = _fill_the_queue(client, scorer)
    try:
        with pytest.raises(openai.InternalServerError) as raised:
            sdk(client, max_retries=0).moderations.create(input="one too many")
    finally:
        scorer.release.set()
        for t in threads:
            t.join(10)
    assert raised.value.status_code == 503
    assert raised.value.response.headers["retry-after"] == "3"
    error = error_of(raised.value)
    assert (error["type"], error["code"]) == ("server_error", "overloaded")


def test_the_sdk_retries_a_503_after_retry_after_and_gets_its_answer(make_client: MakeClient) -> None:
    scorer = GatedScorer()
    client = make_client(scorer, QUEUE_MAX=1, BATCH_MAX_SIZE=1, BATCH_MAX_WAIT_MS=0, RETRY_AFTER_S=1)
    seen: list[tuple[str | None, int]] = []

    def record(response: httpx.Response) -> None:
        if response.request.url.path == "/v1/moderations":
            seen.append((response.request.headers.get("x-stainless-retry-count"), response.status_code))

    client.event_hooks = {"request": [], "response": [record]}
    threads = _fill_the_queue(client, scorer)
    answers: list[Any] = []
    caller = threading.Thread(
        target=lambda: answers.append(
            sdk(client, max_retries=3).moderations.create(input="You [[insult=0.9]]")
        )
    )
    caller.start()
    try:
        _wait_for(lambda: len(seen) == 1)  # refused: the model's queue is full
        scorer.release.set()  # the model catches up while the SDK waits Retry-After
        caller.join(15)
    finally:
        scorer.release.set()
        for t in threads:
            t.join(10)
    assert seen == [("0", 503), ("1", 200)]
    (answer,) = answers
    assert answer.results[0].flagged and flagged_categories(answer.results[0]) == {"harassment"}


def test_a_429_keeps_its_retry_after_in_openais_shape() -> None:
    # Nothing in the door answers 429 yet (per-key limits are not built); the envelope is ready for it.
    response = openai_shape(ApiProblem(429, "rate_limited", "Slow down.", headers={"Retry-After": "7"}))
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert (
        response.body
        == b'{"error":{"message":"Slow down.","type":"requests","param":null,"code":"rate_limited"}}'
    )


# -- API keys (issue 13, part 1: the tests skip until the keys exist) ----------------------------------------


def test_a_sites_key_is_accepted_as_a_bearer_token(make_client: MakeClient) -> None:
    client = make_client(REQUIRE_API_KEY=True)
    key = issue_key(client, "news.example.org")
    assert sdk(client, api_key=key).moderations.create(input="A kind word.").results[0].flagged is False


@pytest.mark.parametrize("presented", ["", "not-a-key"])
def test_a_missing_or_unknown_key_is_401_in_openais_shape(make_client: MakeClient, presented: str) -> None:
    client = make_client(REQUIRE_API_KEY=True)
    issue_key(client, "news.example.org")
    headers = {"Authorization": f"Bearer {presented}"} if presented else {}
    r = client.post("/v1/moderations", json={"input": "A kind word."}, headers=headers)
    assert r.status_code == 401
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == ("missing_api_key" if not presented else "invalid_api_key")


def test_a_revoked_key_is_refused_as_the_sdk_expects(make_client: MakeClient) -> None:
    client = make_client(REQUIRE_API_KEY=True)
    key = issue_key(client, "news.example.org")
    revoke_key(client, key)
    with pytest.raises(openai.AuthenticationError) as raised:
        sdk(client, api_key=key).moderations.create(input="A kind word.")
    assert error_of(raised.value)["code"] == "invalid_api_key"


def test_the_table_names_every_openai_category() -> None:
    assert set(OPENAI_CATEGORIES) == EVERY_CATEGORY and len(OPENAI_CATEGORIES) == 13
