"""The pipeline's "do not store" mode and the parts a door has scored with a comment, on the real word lists
and policy, a memory store and the marker scorer. (Against a real Redis, through the Perspective door:
tests/api/test_perspective.py.)"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service import runtime
from service.model.base import NoModel
from service.moderation.pipeline import Pipeline
from service.moderation.types import Comment
from service.review.log import DecisionLog
from service.review.models import COUNTED
from service.store.memory import MemoryStore
from tests.support.scorers import FailingScorer, MarkerScorer
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

TEXTS = ["A fine article.", "Hmm, you clown [[insult=0.6]]", "This is fucking ridiculous."]


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    memory = MemoryStore()
    yield memory
    await memory.aclose()


def _build(scorer: MarkerScorer | NoModel, store: MemoryStore) -> tuple[Pipeline, DecisionLog]:
    settings = make_settings()
    rules = runtime.load_rules(settings)
    decisions = runtime.decision_log(settings, store)
    pipeline = runtime.pipeline(settings, rules=rules, scorer=scorer, store=store, decisions=decisions)
    return pipeline, decisions


async def _counted(decisions: DecisionLog) -> dict[str, int]:
    counts = await decisions.counts()
    return {f"{d}:{v}": counts.last_hour(f"{d}:{v}") for d, values in COUNTED for v in values}


async def test_do_not_store_counts_and_keeps_nothing_else(store: MemoryStore) -> None:
    pipeline, decisions = _build(MarkerScorer(), store)
    try:
        comments = [Comment(id=f"d{i}", text=t) for i, t in enumerate(TEXTS)]
        verdicts = await pipeline.moderate(comments, do_not_store=True)
    finally:
        pipeline.close()
    assert [v.verdict for v in verdicts] == ["accept", "review", "reject"]
    assert all(v.status_token is None for v in verdicts)
    # Nothing cached, no status, no log entry, nobody in the queue.
    assert len(store) == 0
    assert [await store.get_status(f"d{i}") for i in range(3)] == [None, None, None]
    assert await store.log_length() == 0 and await store.review_count() == 0
    counted = await _counted(decisions)
    assert {k: v for k, v in counted.items() if v} == {
        "verdict:accept": 1,
        "verdict:review": 1,
        "verdict:reject": 1,
        "cache:miss": 3,
        "clause:personal": 1,
        "clause:obscene": 1,
    }


async def test_the_same_comments_stored_leave_all_of_that(store: MemoryStore) -> None:
    # The other side of the test above, so that it can fail: what storing leaves behind.
    pipeline, decisions = _build(MarkerScorer(), store)
    try:
        verdicts = await pipeline.moderate([Comment(id=f"d{i}", text=t) for i, t in enumerate(TEXTS)])
    finally:
        pipeline.close()
    assert all(v.status_token for v in verdicts)
    assert len(store) == 3 and await store.log_length() == 2 and await store.review_count() == 1
    assert (await _counted(decisions))["verdict:review"] == 1


async def test_parts_are_scored_in_the_comments_submission(store: MemoryStore) -> None:
    scorer = MarkerScorer()
    pipeline, _ = _build(scorer, store)
    try:
        text = "Fine. You clown [[insult=0.6]]."
        verdict, parts = await pipeline.moderate_with_parts(
            Comment(text=text), ["Fine.", "You clown [[insult=0.6]]."], do_not_store=True
        )
        assert verdict.scores["insult"] == 0.6
        assert parts is not None and [p["insult"] for p in parts] == [0.01, 0.6]
        # One model call (the batcher orders a batch by length).
        assert [sorted(call) for call in scorer.calls] == [
            sorted([text, "Fine.", "You clown [[insult=0.6]]."])
        ]
        # A cached comment needs no model call; its parts still do.
        await pipeline.moderate([Comment(text="Cached. Twice.")])
        cached, parts = await pipeline.moderate_with_parts(
            Comment(text="Cached. Twice."), ["Cached.", "Twice."]
        )
        assert cached.cached and parts is not None and len(parts) == 2
        assert sorted(scorer.calls[-1]) == ["Cached.", "Twice."]
    finally:
        pipeline.close()


async def test_no_part_scores_without_a_model_or_when_it_fails(store: MemoryStore) -> None:
    for scorer in (NoModel(), FailingScorer()):
        pipeline, _ = _build(scorer, store)
        try:
            verdict, parts = await pipeline.moderate_with_parts(Comment(text="One. Two."), ["One.", "Two."])
        finally:
            pipeline.close()
        assert parts is None and verdict.model_consulted is False
