"""The stored and exchanged forms of service/review/models.py: here PendingRecord's one-line JSON."""

from __future__ import annotations

import json

import pytest

from service.moderation.types import Comment, Profanity, Reason, Verdict, WordMatch
from service.review.models import PendingRecord


def _record() -> PendingRecord:
    text = "Bien dit, cr\u00e9tin \U0001f600 \u2028 fin"
    match = WordMatch(term="cretin", tier="review", clause="personal", start=10, end=16, text="cr\u00e9tin")
    verdict = Verdict(
        id="c-1",
        verdict="review",
        reasons=[
            Reason(
                code="wordlist_match", clause="personal", source="wordlist", action="review", term="cretin"
            ),
            Reason(
                code="model_score",
                clause="personal",
                source="model",
                action="review",
                category="insult",
                score=0.1 + 0.2,
                threshold=0.5,
            ),
        ],
        profanity=Profanity(matches=[match]),
        scores={"insult": 0.300000004, "toxicity": 1e-7},
        notice="Pas d\u2019attaques personnelles",
        policy_version="p1",
        model="m:1",
        status_token="tok_-123",
    )
    comment = Comment(id="c-1", text=text, article_id="a-1", author_id=None, lang="fr", site="blog")
    return PendingRecord(record_id="0f" * 16, comment=comment, verdict=verdict, at_ms=1_717_000_000_123)


def test_a_record_s_json_is_one_ascii_line_and_round_trips_exactly() -> None:
    record = _record()
    line = record.to_json()
    assert line.isascii() and len(line.splitlines()) == 1
    back = PendingRecord.from_json(line)
    assert back == record
    assert back.to_json() == line


@pytest.mark.parametrize(
    "line",
    [
        "",
        "not json",
        "[]",
        "{}",
        "null",
        '{"record_id": "x"}',
    ],
)
def test_anything_else_is_a_value_error(line: str) -> None:
    with pytest.raises(ValueError):
        PendingRecord.from_json(line)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("record_id", ""),
        ("record_id", 7),
        ("at_ms", "1"),
        ("at_ms", True),
        ("at_ms", -1),
        ("comment", "text"),
        ("comment", {"id": "c-1"}),
        ("verdict", None),
        ("verdict", {"id": "c-1"}),
        ("extra", 1),
    ],
)
def test_a_record_with_a_bad_field_is_a_value_error(field: str, value: object) -> None:
    raw = json.loads(_record().to_json())
    raw[field] = value
    with pytest.raises(ValueError):
        PendingRecord.from_json(json.dumps(raw))


def test_a_record_needs_its_status_token_and_matching_ids() -> None:
    raw = json.loads(_record().to_json())
    raw["verdict"]["status_token"] = None
    with pytest.raises(ValueError, match="status token"):
        PendingRecord.from_json(json.dumps(raw))
    raw = json.loads(_record().to_json())
    raw["comment"]["id"] = "other"
    with pytest.raises(ValueError, match="not the verdict"):
        PendingRecord.from_json(json.dumps(raw))
