"""An ambiguous word (issue 11, item 4) through every door of the real app, the marker scorer as the model:
/v1/moderate and the widget's pre-check, Perspective's PROFANITY, OpenAI's categories and Coral's answer all
follow the model's judgement of the word, from the same pipeline."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.model.base import NoModel
from tests.api.test_coral import SECRET, coral_bytes, coral_request, coral_signature

ANALYZE = "/v1alpha1/comments:analyze"
NAME = "Dick Cheney defended the policy again."
BIRD = "A cock crowed in the farmyard at dawn."


def _moderate(client: TestClient, text: str) -> dict[str, Any]:
    response = client.post("/v1/moderate", json={"text": text})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("text", "verdict", "action"),
    [
        (NAME, "accept", "accept"),
        (BIRD, "accept", "accept"),
        ("Shut up, you cock. [[obscene=0.91]]", "reject", "reject"),
        ("Shut up, you cock. [[obscene=0.4]]", "review", "review"),
    ],
)
def test_moderate_says_how_the_model_judged_the_word(client, text, verdict, action):
    body = _moderate(client, text)
    assert body["verdict"] == verdict
    (reason,) = [r for r in body["reasons"] if r["code"] == "wordlist_ambiguous"]
    assert reason["action"] == action and reason["source"] == "wordlist"
    assert reason["message"].startswith(f"ambiguous word '{reason['term']}': the model ")
    assert [m["tier"] for m in body["profanity"]["matches"]] == ["ambiguous"]


def test_without_a_model_the_word_is_held_for_review(make_client):
    body = _moderate(make_client(NoModel()), NAME)
    assert (body["verdict"], body["model_consulted"]) == ("review", False)
    assert body["reasons"][0]["message"] == "ambiguous word 'dick': no model: held for review"


def test_the_word_list_precheck_shows_an_ambiguous_word_as_review_not_reject(client):
    # The widget's pre-check runs on the word list alone by default: it cannot know which sense is meant.
    response = client.post("/v1/precheck", json={"text": "Shut up, you cock."})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["verdict"], body["model_consulted"]) == ("review", False)
    assert body["spans"] == [
        {"start": 13, "end": 17, "text": "cock", "clause": "obscene", "tier": "ambiguous", "term": "cock"}
    ]
    assert body["reasons"][0]["message"] == "ambiguous word 'cock': no model: held for review"
    assert body["notice"].startswith("Your comment will appear once a moderator has reviewed it.")


def test_a_precheck_with_the_model_follows_its_judgement(make_client):
    client = make_client(PRECHECK_MODEL=True)
    assert client.post("/v1/precheck", json={"text": NAME}).json()["verdict"] == "accept"


def _profanity(client: TestClient, text: str) -> float:
    body = {"comment": {"text": text}, "requestedAttributes": {"PROFANITY": {}}}
    response = client.post(ANALYZE, content=json.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    value: float = response.json()["attributeScores"]["PROFANITY"]["summaryScore"]["value"]
    return value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Shut up, you cock. [[obscene=0.3]] [[sexual_explicit=0.75]]", 1.0),  # the model agrees: as reject
        ("Shut up, you cock. [[obscene=0.3]]", 0.85),  # unsure: PERSPECTIVE_PROFANITY_REVIEW_SCORE
        ("A cock crowed at dawn. [[obscene=0.1]]", 0.1),  # disagrees: the word counts for nothing
    ],
)
def test_perspective_profanity_follows_the_models_judgement(client, text, expected):
    assert _profanity(client, text) == expected


def test_perspective_profanity_without_a_model_is_the_review_score(make_client):
    assert _profanity(make_client(NoModel()), NAME) == 0.85


def _openai(client: TestClient, text: str) -> dict[str, Any]:
    response = client.post("/v1/moderations", json={"input": text})
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    return dict(result)


def test_openai_hate_is_not_flagged_for_a_word_the_model_dismissed(client):
    innocent = _openai(client, "He stepped outside for a fag after the meeting.")
    assert innocent["flagged"] is False and innocent["categories"]["hate"] is False
    abusive = _openai(client, "Shut up, you fag. [[identity_attack=0.83]]")
    assert abusive["flagged"] is True and abusive["categories"]["hate"] is True


def test_coral_publishes_the_innocent_sense_and_rejects_the_abusive_one(make_client):
    client = make_client(CORAL_SECRETS=[SECRET])

    def answer(text: str) -> dict[str, Any]:
        body = coral_bytes(coral_request(text))
        headers = {"Content-Type": "application/json", "X-Coral-Signature": coral_signature(body, SECRET)}
        response = client.post("/v1/coral/moderate", content=body, headers=headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    innocent = answer(NAME)
    assert (innocent["status"], innocent["actions"]) == ("APPROVED", [])
    abusive = answer("Shut up, you cock. [[obscene=0.91]]")
    assert abusive["status"] == "REJECTED"
    assert abusive["moderationAction"] == {"rejectionReason": {"code": "BANNED_WORD"}}
    unsure = answer("Shut up, you cock. [[obscene=0.4]]")
    assert unsure["status"] == "SYSTEM_WITHHELD" and unsure["actions"]


def test_the_statement_of_reasons_says_how_the_model_judged_the_word(client):
    response = client.post(
        "/v1/moderate", json={"id": "amb-1", "text": "Shut up, you cock. [[obscene=0.91]]"}
    )
    verdict = response.json()
    assert verdict["verdict"] == "reject"
    statement = client.get(
        "/v1/comments/amb-1/statement", headers={"X-Appeal-Token": verdict["appeal_token"]}
    ).json()
    assert "ambiguous word 'cock': the model agrees (obscene 0.91 ≥ 0.7)" in statement["facts"]
