"""POST /v1/moderate and /v1/moderate/batch through the real ASGI app (real policy, real word lists)."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from service import runtime
from service.app import create_app
from tests.support.scorers import FailingScorer, MarkerScorer
from tests.support.settings import make_settings
from tests.support.wordlists import BLOCK_MARKER, BlockingWordLists

NOTICE = "Kindly refrain from using derogatory, personal, or obscene words in your comments."


def test_clean_comment_is_accepted_with_every_score(client):
    r = client.post("/v1/moderate", json={"text": "What a thoughtful article, thank you.", "id": "c-1"})
    assert r.status_code == 200
    body = r.json()
    assert body["id"] == "c-1"
    assert body["verdict"] == "accept"
    assert body["reasons"] == [] and body["notice"] is None
    assert set(body["scores"]) == {
        "toxicity",
        "severe_toxicity",
        "obscene",
        "identity_attack",
        "insult",
        "threat",
        "sexual_explicit",
    }
    assert body["profanity"] == {"matches": [], "capped": False, "omitted": 0, "language": None}
    assert body["reasons_omitted"] == 0
    assert body["cached"] is False and body["model_consulted"] is True
    assert body["policy_version"] == "2026-11-29.1"
    assert body["model"] == "marker:000000000000"


def test_obscene_word_is_rejected_with_its_span(client):
    text = "This is fucking ridiculous."
    body = client.post("/v1/moderate", json={"text": text}).json()
    assert body["verdict"] == "reject"
    (match,) = body["profanity"]["matches"]
    assert match["clause"] == "obscene" and match["tier"] == "reject"
    assert text[match["start"] : match["end"]] == match["text"]
    assert match["text"].lower().startswith("fuck")
    reason = next(r for r in body["reasons"] if r["source"] == "wordlist")
    assert (reason["clause"], reason["start"], reason["end"]) == ("obscene", match["start"], match["end"])
    assert NOTICE in body["notice"] and "obscene" in body["notice"]
    assert len(body["id"]) == 32  # generated when the client sends none


def test_neutral_identity_statement_is_accepted(client):
    for text in (
        "I am a gay man and I loved this piece.",
        "As a queer reader, thank you.",
        "My lesbian aunt agrees.",
    ):
        body = client.post("/v1/moderate", json={"text": text}).json()
        assert body["verdict"] == "accept", (text, body)


def test_model_reasons_carry_score_and_threshold(client):
    body = client.post("/v1/moderate", json={"text": "You people are [[identity_attack=0.91]] vermin"}).json()
    assert body["verdict"] == "reject"
    reason = next(r for r in body["reasons"] if r["source"] == "model")
    assert reason == {
        "code": "model_score",
        "clause": "derogatory",
        "source": "model",
        "action": "reject",
        "category": "identity_attack",
        "term": None,
        "score": 0.91,
        "threshold": 0.7,
        "start": None,
        "end": None,
        "message": None,
    }
    review = client.post("/v1/moderate", json={"text": "meh [[insult=0.55]]"}).json()
    assert review["verdict"] == "review" and review["notice"].startswith("Your comment will appear")


def test_repeat_is_cached_and_skips_the_model(make_client):
    scorer = MarkerScorer()
    client = make_client(scorer)
    first = client.post("/v1/moderate", json={"text": "A fine point about trams.", "id": "a"}).json()
    second = client.post("/v1/moderate", json={"text": "A fine point about trams.", "id": "b"}).json()
    assert first["cached"] is False and second["cached"] is True
    assert second["id"] == "b"
    # Each comment gets its own status token; the cache never hands one comment's token to another.
    assert (
        first["status_token"] and second["status_token"] and first["status_token"] != second["status_token"]
    )
    own = ("id", "cached", "status_token")
    assert {k: v for k, v in second.items() if k not in own} == {
        k: v for k, v in first.items() if k not in own
    }
    assert scorer.texts_scored == 1


def test_model_failure_degrades_to_review(make_client):
    client = make_client(FailingScorer())
    body = client.post("/v1/moderate", json={"text": "A perfectly nice comment."}).json()
    assert body["verdict"] == "review"
    assert body["model_consulted"] is False and body["scores"] == {}
    assert [r["code"] for r in body["reasons"]] == ["model_unavailable"]
    # Failed verdicts are not cached: the next try consults the model again.
    again = client.post("/v1/moderate", json={"text": "A perfectly nice comment."}).json()
    assert again["cached"] is False


def test_batch_keeps_order_and_scores_in_one_model_call(make_client):
    scorer = MarkerScorer()
    client = make_client(scorer)
    comments = [{"text": f"comment number {i}", "id": str(i)} for i in range(5)]
    comments[2]["text"] = "shit happens"
    r = client.post("/v1/moderate/batch", json={"comments": comments})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [v["id"] for v in results] == ["0", "1", "2", "3", "4"]
    assert results[2]["verdict"] == "reject"
    assert [v["verdict"] for i, v in enumerate(results) if i != 2] == ["accept"] * 4
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == 5


def test_batch_mixes_cached_and_fresh(make_client):
    scorer = MarkerScorer()
    client = make_client(scorer)
    client.post("/v1/moderate", json={"text": "already seen"})
    results = client.post(
        "/v1/moderate/batch", json={"comments": [{"text": "already seen"}, {"text": "brand new"}]}
    ).json()["results"]
    assert [v["cached"] for v in results] == [True, False]
    assert scorer.calls[-1] == ["brand new"]


def test_without_a_model_every_verdict_says_so(make_client):
    from service.model.base import NoModel

    client = make_client(NoModel())
    body = client.post("/v1/moderate", json={"text": "You are a [[insult=0.99]] idiot"}).json()
    assert body["model"] == "none" and body["model_consulted"] is False
    assert body["scores"] == {}
    clean = client.post("/v1/moderate", json={"text": "Nice."}).json()
    assert clean["verdict"] == "accept" and clean["model_consulted"] is False


def test_nonsense_scores_are_a_model_failure_not_an_accept(make_client):
    from tests.support.scorers import NaNScorer

    body = make_client(NaNScorer()).post("/v1/moderate", json={"text": "Hello there."}).json()
    assert body["verdict"] == "review" and body["reasons"][0]["code"] == "model_unavailable"


# -- comment ids (issue 10, "Why" 3) -------------------------------------------------------------------------

SAFE_IDS = ["c-1", "a.b", "x:y_z-1", ".hidden", "trailing.", "9" * 128]
UNSAFE_IDS = [
    "../comments/victim-1/overturn",  # aimed a moderator's Approve at another comment's overturn
    "..",
    ".",
    "a..b",
    "a/b",
    "a b",
    "a?b",
    "a#b",
    "a%2Fb",
    "café",
    "9" * 129,
    "",
]


def test_safe_ids_are_taken_as_sent(client):
    for comment_id in SAFE_IDS:
        response = client.post("/v1/moderate", json={"text": "Hello.", "id": comment_id})
        assert response.status_code == 200, (comment_id, response.text)
        assert response.json()["id"] == comment_id


def test_an_id_outside_the_safe_alphabet_is_422_naming_the_rule(client):
    for comment_id in UNSAFE_IDS:
        response = client.post("/v1/moderate", json={"text": "Hello.", "id": comment_id})
        assert response.status_code == 422, comment_id
        error = response.json()["error"]
        assert (error["code"], error["field"]) == ("invalid_field", "id")
        assert "1 to 128 characters from A-Z a-z 0-9 . _ : -" in error["message"]
    batch = client.post(
        "/v1/moderate/batch", json={"comments": [{"text": "Hi.", "id": "ok"}, {"text": "Hi.", "id": "../x"}]}
    )
    assert batch.status_code == 422 and batch.json()["error"]["field"] == "comments.1.id"


# -- bounded work per comment (issue 10, "Why" 1 and 4) ------------------------------------------------------


def test_a_comment_being_matched_holds_up_neither_healthz_nor_other_comments():
    settings = make_settings(MATCH_THREADS=2)
    loaded = runtime.load_components(settings, scorer=MarkerScorer())
    gate = BlockingWordLists(loaded.rules)
    app = create_app(settings, components=dataclasses.replace(loaded, rules=gate))
    with TestClient(app) as client, ThreadPoolExecutor(max_workers=1) as background:
        slow = background.submit(
            client.post, "/v1/moderate", json={"text": f"So fucking slow {BLOCK_MARKER}"}
        )
        try:
            assert gate.wordlist.entered.wait(timeout=10), "matching never started"
            health = client.get("/healthz")
            other = client.post("/v1/moderate", json={"text": "This is fucking ridiculous."})
            # Both were answered while the slow comment was still being matched: it ran off the event loop.
            still_matching = not gate.wordlist.finished.is_set()
        finally:
            gate.wordlist.release.set()
        answer = slow.result(timeout=30)
    assert still_matching and not gate.wordlist.timed_out
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert other.json()["verdict"] == "reject"
    assert answer.status_code == 200 and answer.json()["verdict"] == "reject"


def test_a_megabyte_of_one_word_answers_bounded_json(client):
    # A 1 MB batch of "fuck " answered 58.7 MB of JSON: a match and a reason for each of its 200,000 words.
    text = "fuck " * 2000  # MODERATION_MAX_CHARS
    response = client.post("/v1/moderate/batch", json={"comments": [{"text": text}] * 100})
    assert response.status_code == 200
    # Each verdict is a few KB whatever the text: about 7 KB here, so well under 1 MB for the batch.
    assert len(response.content) < 1_000_000, len(response.content)
    results = response.json()["results"]
    assert len(results) == 100 and {v["verdict"] for v in results} == {"reject"}
    first = results[0]
    assert len(first["profanity"]["matches"]) == 20  # MODERATION_MAX_MATCHES
    assert (first["profanity"]["capped"], first["profanity"]["omitted"]) == (True, 1980)
    assert len(first["reasons"]) <= 20 and first["notice"]


# -- other languages (issue 11, item 6) ---------------------------------------------------------------------


def test_german_and_swedish_words_are_not_english_profanity(client):
    for text, code in (("Das war sehr erfolgreich", "de"), ("Vi måste sluta nu", "sv")):
        body = client.post("/v1/moderate", json={"text": text}).json()
        assert body["verdict"] == "accept", text
        assert body["profanity"]["matches"] == []
        assert body["profanity"]["language"] == {"code": code, "source": "detected"}


def test_an_english_insult_in_a_german_sentence_is_still_caught(client):
    text = "Du bist ein fucking Idiot, das war sehr erfolgreich"
    body = client.post("/v1/moderate", json={"text": text}).json()
    assert body["verdict"] == "reject"
    assert [m["text"] for m in body["profanity"]["matches"]] == ["fucking"]
    assert body["profanity"]["language"] == {"code": "de", "source": "detected"}


def test_a_given_lang_overrides_detection_and_keys_the_cache(client):
    text = "Das war sehr erfolgreich"
    as_english = client.post("/v1/moderate", json={"text": text, "lang": "en-GB"}).json()
    assert as_english["verdict"] != "accept"
    assert as_english["profanity"]["language"] == {"code": "en", "source": "given"}
    as_german = client.post("/v1/moderate", json={"text": text, "lang": "de"}).json()
    assert as_german["verdict"] == "accept" and as_german["cached"] is False
    assert as_german["profanity"]["language"] == {"code": "de", "source": "given"}
    again = client.post("/v1/moderate", json={"text": text, "lang": "de-AT"}).json()
    assert again["cached"] is True and again["verdict"] == "accept"


def test_short_text_without_lang_is_english(client):
    body = client.post("/v1/moderate", json={"text": "sh1t"}).json()
    assert body["verdict"] == "reject"
    assert body["profanity"]["language"] == {"code": "en", "source": "default"}


def test_a_lang_that_is_no_language_tag_is_refused(client):
    for lang in ("english please", "e", "de--AT", "12"):
        r = client.post("/v1/moderate", json={"text": "Hello", "lang": lang})
        assert r.status_code == 422, lang
        assert "BCP 47" in r.text
