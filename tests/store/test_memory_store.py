"""What only the memory store does: the bounds on what it may forget (and on what it may not), and
`open_store` choosing it.

The behaviour it shares with Redis is held by test_contract.py (and the decision log's by
tests/review/test_log.py), which run the same tests on both stores.
"""

from __future__ import annotations

import logging
from unittest.mock import ANY

import pytest

from service.store import CounterName, MemoryStore, RedisStore, Store, StoreFull, memory, open_store
from service.store.base import ApiKeyRecord, DecisionWrite, QueuePlace, RecordWrite
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.anyio

VERDICT = {"verdict": "reject", "reasons": [{"clause": "obscene", "score": 0.93}], "cached": False}


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(max_entries=3, clock=clock)


async def test_ttl_is_honoured_and_expired_entries_are_dropped_on_read(
    store: MemoryStore, clock: FakeClock
) -> None:
    await store.set_verdict("k", VERDICT, ttl_s=10)
    clock.advance(9.99)
    assert await store.get_verdict("k") == VERDICT
    clock.advance(0.01)
    assert await store.get_verdict("k") is None
    assert len(store) == 0


async def test_oldest_entries_are_evicted_beyond_max_entries(store: MemoryStore) -> None:
    for name in ("a", "b", "c"):
        await store.set_verdict(name, {"name": name}, ttl_s=60)
    await store.set_verdict("a", {"name": "a2"}, ttl_s=60)  # "a" becomes the newest
    await store.set_verdict("d", {"name": "d"}, ttl_s=60)
    assert len(store) == 3
    assert await store.get_verdict("b") is None
    assert [await store.get_verdict(n) for n in ("a", "c", "d")] == [
        {"name": "a2"},
        {"name": "c"},
        {"name": "d"},
    ]


async def test_protocol_members(store: MemoryStore) -> None:
    assert isinstance(store, Store)
    assert store.kind == "memory"
    assert store.describe() == "memory"
    assert await store.ping() is True
    await store.set_verdict("k", VERDICT, ttl_s=60)
    await store.aclose()
    assert len(store) == 0


@pytest.mark.parametrize("url", [None, ""])
async def test_open_store_without_redis_url_is_memory_and_says_so(
    url: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="service.store"):
        store = open_store(url)
    assert isinstance(store, MemoryStore)
    assert "REDIS_URL is unset" in caplog.text


async def test_open_store_with_redis_url_is_redis_and_masks_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="service.store"):
        store = open_store("redis://:hunter2@127.0.0.1:1/0")  # lazily connected: nothing listens on 1
    try:
        assert isinstance(store, RedisStore)
        assert store.kind == "redis"
        assert "redis://:***@127.0.0.1:1/0" in caplog.text
        assert "hunter2" not in caplog.text
    finally:
        await store.aclose()


async def test_the_service_s_own_statuses_are_bounded_oldest_first(store: MemoryStore) -> None:
    await store.set_status("pending", {"status": "pending_review"}, ttl_s=None)
    for name in ("a", "b", "c"):
        await store.set_status(name, {"status": "accepted"}, ttl_s=60, evictable=True)
    await store.set_status("a", {"status": "rejected"}, ttl_s=60, evictable=True)  # "a" becomes the newest
    await store.set_status("d", {"status": "accepted"}, ttl_s=60, evictable=True)
    assert await store.get_statuses(["b", "c", "a", "d", "pending"]) == [
        None,
        {"status": "accepted"},
        {"status": "rejected"},
        {"status": "accepted"},
        {"status": "pending_review"},  # not counted against the bound, never dropped
    ]


async def test_a_pending_review_that_becomes_final_joins_the_bound(store: MemoryStore) -> None:
    await store.set_status("p", {"status": "pending_review"}, ttl_s=None)
    await store.set_status("p", {"status": "accepted"}, ttl_s=60, evictable=True)  # re-moderated
    for name in ("a", "b", "c"):
        await store.set_status(name, {"status": "accepted"}, ttl_s=60, evictable=True)
    assert await store.get_status("p") is None


async def test_held_statuses_expire_and_are_swept_as_the_table_grows(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=2, clock=clock)
    await store.set_status("pending", {"status": "pending_review"}, ttl_s=None)
    for i in range(3):
        await store.set_status(f"decided-{i}", {"status": "approved"}, ttl_s=10)
    clock.advance(10)
    await store.set_status("late", {"status": "approved"}, ttl_s=10)  # past 2 x max_entries: a sweep
    assert sorted(store._statuses) == ["late", "pending"]


async def test_expired_counters_are_swept_once_there_are_four_times_the_bound(
    store: MemoryStore, clock: FakeClock
) -> None:
    await store.add_counts([CounterName("m", b, "verdict", "accept") for b in range(12)], 60)
    clock.advance(60)
    await store.add_counts([CounterName("m", 99, "verdict", "accept")], 60)  # 13 > 4 x 3
    assert list(store._counters) == [CounterName("m", 99, "verdict", "accept")]


# -- what it must never forget, and its limits on that (issue 12) ----------------------------------------------


def _accepted(comment_id: str) -> RecordWrite:
    return RecordWrite(comment_id, {"status": "accepted"}, ttl_s=3600, evictable=True)


def _pending(comment_id: str) -> RecordWrite:
    queue = QueuePlace(1, limit=None, overflow_limit=0, lost_ttl_s=3600)
    return RecordWrite(
        comment_id,
        {"status": "pending_review"},
        ttl_s=None,
        evictable=False,
        log_entry={"n": "1"},
        log_max_len=100,
        queue=queue,
    )


def _approve(comment_id: str) -> DecisionWrite:
    return DecisionWrite(
        comment_id, "pending_review", True, {"status": "approved"}, 3600, {"kind": "moderator"}, 100, 0
    )


@pytest.mark.slow  # about 5 s
async def test_100_000_accepted_comments_evict_neither_a_pending_review_nor_a_moderator_s_approval() -> None:
    store = MemoryStore()  # the service's default bound: 100,000
    await store.write_records([_pending("waiting"), _pending("decided")])
    assert (await store.apply_decision(_approve("decided"))).outcome == "applied"
    for start in range(0, 100_001, 1000):
        await store.write_records([_accepted(f"ok-{i}") for i in range(start, start + 1000)])
    assert await store.get_statuses(["waiting", "decided", "ok-0", "ok-100000"]) == [
        {"status": "pending_review", "log_id": ANY},
        {"status": "approved", "log_id": ANY},
        None,  # the service's own accepts are what the bound drops, oldest first
        {"status": "accepted"},
    ]
    assert await store.review_page(0, 10) == ["waiting"]


async def test_past_its_held_limit_a_new_review_or_decision_is_refused_whole_with_a_clear_error(
    clock: FakeClock,
) -> None:
    store = MemoryStore(max_entries=3, max_held=2, clock=clock)
    await store.write_records([_pending("p1"), _pending("p2"), _accepted("ok")])
    with pytest.raises(
        StoreFull, match=r"holds 2 pending reviews and moderators' decisions.*MEMORY_MAX_HELD"
    ):
        await store.write_records([_pending("p3")])
    assert await store.get_status("p3") is None and await store.review_page(0, 10) == ["p1", "p2"]
    assert await store.log_length() == 2
    # Deciding a held review takes no new room; overturning an accepted comment would.
    assert (await store.apply_decision(_approve("p1"))).outcome == "applied"
    overturn = DecisionWrite(
        "ok", "accepted", False, {"status": "rejected_by_moderator"}, 10, {"k": "m"}, 100, 0
    )
    with pytest.raises(StoreFull):
        await store.apply_decision(overturn)
    assert await store.get_status("ok") == {"status": "accepted"} and await store.log_length() == 3
    with pytest.raises(StoreFull):
        await store.set_status("p4", {"status": "pending_review"}, ttl_s=None)
    # The service's own verdicts are still recorded, and room comes back as decisions expire.
    assert [r.written for r in await store.write_records([_accepted("ok2")])] == [True]
    clock.advance(3600)
    assert [r.written for r in await store.write_records([_pending("p3")])] == [True]


async def test_an_uncapped_queue_is_capped_by_the_held_limit(clock: FakeClock) -> None:
    store = MemoryStore(max_entries=3, max_held=2, clock=clock)
    spills = [await store.enqueue_review(f"q{i}", i) for i in range(5)]
    assert [s.moved for s in spills] == [0, 0, 1, 1, 1] and [s.lost for s in spills][-1] == ("q0",)
    assert (await store.review_count(), await store.review_count(overflow=True)) == (2, 2)


async def test_api_keys_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "MAX_API_KEYS", 2)
    store = MemoryStore()
    for i in range(2):
        assert await store.add_api_key(ApiKeyRecord(f"k{i}", "site", "d" * 64, 1))
    with pytest.raises(StoreFull, match="at most 2 API keys"):
        await store.add_api_key(ApiKeyRecord("k2", "site", "d" * 64, 1))
    assert [r.id for r in await store.list_api_keys()] == ["k0", "k1"]
