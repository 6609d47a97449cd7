"""service/review/suggestions.py: suggested scores kept in a capped log of their own, in memory and in a
real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from service.review.suggestions import SuggestedSpan, Suggestion, SuggestionLog
from service.store.base import DecisionStore
from service.store.memory import MemoryStore
from service.store.redis import RedisStore

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DecisionStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    redis_url = request.getfixturevalue("redis_url")
    key_prefix = request.getfixturevalue("key_prefix")
    redis_store = RedisStore.from_url(redis_url, prefix=f"{key_prefix}suggestions:")
    yield redis_store
    await redis_store.aclose()


def _suggestion(i: int, **extra: object) -> Suggestion:
    fields: dict[str, object] = {"text": f"comment {i}", "scores": {"TOXICITY": 1.0}, **extra}
    return Suggestion(**fields)  # type: ignore[arg-type]


async def test_a_suggestion_comes_back_as_sent(store: DecisionStore) -> None:
    log = SuggestionLog(store, max_entries=100, retention_s=3600)
    sent = Suggestion(
        text="You 😀 clown",
        scores={"TOXICITY": 1.0, "INSULT": 0.5},
        spans={"INSULT": [SuggestedSpan(6, 11, 1.0)], "THREAT": [SuggestedSpan(0, 3, 0.0)]},
        languages=("en", "fr"),
        community_id="Coral:https://news.example",
        client_token="comment:c1",
        session_id="42",
        site="news.example",
        context='{"url": "https://news.example/a"}',
    )
    await log.add(sent)
    page = await log.page()
    assert [r.suggestion for r in page.records] == [sent]
    assert page.next_before is None and await log.length() == 1
    record = page.records[0]
    assert record.highlights == [(6, 11), (0, 3)] and record.suggestion.attributes == [
        "TOXICITY",
        "INSULT",
        "THREAT",
    ]


async def test_newest_first_in_pages(store: DecisionStore) -> None:
    log = SuggestionLog(store, max_entries=100, retention_s=3600)
    for i in range(5):
        await log.add(_suggestion(i))
    first = await log.page(count=2)
    assert [r.suggestion.text for r in first.records] == ["comment 4", "comment 3"]
    second = await log.page(first.next_before, count=2)
    third = await log.page(second.next_before, count=2)
    assert [r.suggestion.text for r in second.records + third.records] == [
        "comment 2",
        "comment 1",
        "comment 0",
    ]
    assert third.next_before is None


async def test_the_text_is_cut_and_spans_past_the_cut_go_with_it(store: DecisionStore) -> None:
    log = SuggestionLog(store, max_entries=100, retention_s=3600, max_text_chars=5)
    await log.add(
        _suggestion(
            0,
            text="abcdefghij",
            spans={"TOXICITY": [SuggestedSpan(0, 2, 1.0), SuggestedSpan(4, 8, 1.0)]},
            context="0123456789",
        )
    )
    (record,) = (await log.page()).records
    assert (record.suggestion.text, record.text_omitted, record.suggestion.context) == ("abcde", 5, "01234")
    assert record.suggestion.spans == {"TOXICITY": [SuggestedSpan(0, 2, 1.0)]}


async def test_the_log_is_capped() -> None:
    # Exactly in memory; Redis trims its stream approximately, in whole nodes, as the decision log's.
    log = SuggestionLog(MemoryStore(), max_entries=3, retention_s=3600)
    for i in range(10):
        await log.add(_suggestion(i))
    assert await log.length() == 3
    assert [r.suggestion.text for r in (await log.page()).records] == ["comment 9", "comment 8", "comment 7"]


async def test_old_suggestions_leave_with_the_retention() -> None:
    now = [1_000_000.0]
    store = MemoryStore(wall_clock=lambda: now[0])
    log = SuggestionLog(store, max_entries=100, retention_s=60, clock=lambda: now[0])
    await log.add(_suggestion(0))
    now[0] += 61
    await log.add(_suggestion(1))
    assert [r.suggestion.text for r in (await log.page()).records] == ["comment 1"]


async def test_a_field_that_no_longer_parses_is_shown_empty(store: DecisionStore) -> None:
    await store.append_log({"kind": "suggestion", "text": "hi", "scores": "{not json"}, max_len=10, min_ms=0)
    (record,) = (await SuggestionLog(store, max_entries=10, retention_s=60).page()).records
    assert (record.suggestion.text, record.suggestion.scores, record.suggestion.spans) == ("hi", {}, {})
