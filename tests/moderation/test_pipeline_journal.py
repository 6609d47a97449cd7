"""Pipeline._record with an outage journal (issue 12): what the store refuses is journaled and answered with
its token; while the journal holds records, new ones queue behind them instead of overtaking them.

A real pipeline (shipped rules, the marker scorer: a test double that scores what the text says), a real
DecisionLog on a real Redis under the test's prefix; "Redis down" is a store aimed at a port nothing
listens on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from service import runtime
from service.moderation.pipeline import Pipeline
from service.moderation.types import Comment
from service.review.journal import Journal
from service.review.log import DecisionLog
from service.review.models import CommentNotFound, PendingRecord
from service.store import RedisStore
from tests.support.redis_server import free_port
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal[PendingRecord]]:
    opened: Journal[PendingRecord] = Journal.open(
        tmp_path / "journal",
        decode=PendingRecord.from_json,
        max_records=100,
        max_bytes=1024 * 1024,
        group_ms=5.0,
        group_records=10,
    )
    yield opened
    opened.close()


@pytest.fixture
async def up(redis_url: str, key_prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    await store.aclose()


@pytest.fixture
async def down() -> AsyncIterator[RedisStore]:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix="nobody:")
    yield store
    await store.aclose()


def _pipeline(store: RedisStore, journal: Journal[PendingRecord] | None) -> Pipeline:
    settings = make_settings()
    decisions = runtime.decision_log(settings, store)
    return runtime.pipeline(
        settings,
        rules=runtime.load_rules(settings),
        scorer=MarkerScorer(),
        store=store,
        decisions=decisions,
        journal=journal,
    )


async def test_a_refused_record_is_journaled_and_answered_with_its_token(
    down: RedisStore, up: RedisStore, journal: Journal[PendingRecord]
) -> None:
    pipeline = _pipeline(down, journal)
    try:
        (verdict,) = await pipeline.moderate([Comment(id="j-1", text="Hmm [[insult=0.6]]")])
    finally:
        pipeline.close()
    assert verdict.verdict == "review" and verdict.status_token
    assert journal.depth().records == 1 and pipeline.stats.record_errors == 1
    # Replayed into the store once it answers: the token the client got opens the status.
    decisions = DecisionLog(up, max_entries=1000, retention_s=3600)
    assert await journal.replay_once(decisions.write, batch=10) == 1
    status = await decisions.public_status("j-1", verdict.status_token)
    assert status.status == "pending_review"


async def test_while_the_journal_holds_new_records_queue_behind_it(
    up: RedisStore, journal: Journal[PendingRecord]
) -> None:
    decisions = DecisionLog(up, max_entries=1000, retention_s=3600)
    pipeline = _pipeline(up, journal)
    try:
        # A record from the outage still waits (the store is back, replay has not run yet).
        (older,) = await pipeline.moderate([Comment(id="j-2", text="first text [[insult=0.6]]")])
        assert journal.depth().records == 0  # the store answers: written straight away
        (waiting,) = decisions.prepare(
            [Comment(id="j-3", text="outage text [[insult=0.6]]")],
            [older.model_copy(update={"id": "j-3", "status_token": None})],
        )
        journal.append([waiting])
        # The same comment id again, with another text: not written ahead of the waiting record.
        (newer,) = await pipeline.moderate([Comment(id="j-3", text="a later text [[insult=0.95]]")])
    finally:
        pipeline.close()
    assert newer.verdict == "reject" and newer.status_token
    assert journal.depth().records == 2
    with pytest.raises(CommentNotFound):
        await decisions.status("j-3")  # nothing written out of order
    assert await journal.replay_once(decisions.write, batch=10) == 2
    # The first writer (the outage's record) keeps the status; the later text was a conflict.
    assert (
        await decisions.public_status("j-3", waiting.verdict.status_token or "")
    ).status == "pending_review"
    assert journal.conflicts == 1


async def test_without_a_journal_a_refused_record_goes_out_untokened(down: RedisStore) -> None:
    pipeline = _pipeline(down, None)
    try:
        (verdict,) = await pipeline.moderate([Comment(id="j-4", text="Hmm [[insult=0.6]]")])
    finally:
        pipeline.close()
    assert verdict.verdict == "review" and verdict.status_token is None
