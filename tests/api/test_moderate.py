"""POST /v1/moderate and /v1/moderate/batch through the real ASGI app (real policy, real word lists)."""

from __future__ import annotations

from tests.support.scorers import FailingScorer, MarkerScorer

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
    assert body["profanity"] == {"matches": []}
    assert body["cached"] is False and body["model_consulted"] is True
    assert body["policy_version"] == "2026-11-27.1"
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
    assert {k: v for k, v in second.items() if k not in ("id", "cached")} == {
        k: v for k, v in first.items() if k not in ("id", "cached")
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
