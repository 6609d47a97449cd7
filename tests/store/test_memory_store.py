"""What only the memory store does: the bounds on what it may forget, and `open_store` choosing it.

The behaviour it shares with Redis is held by test_contract.py.
"""

from __future__ import annotations

import logging

import pytest

from service.store import CounterName, MemoryStore, RedisStore, Store, open_store
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


@pytest.mark.parametrize("ttl_s", [0, -1, 1.5, True])
async def test_ttl_below_one_whole_second_is_refused_as_redis_would(
    store: MemoryStore, ttl_s: object
) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await store.set_verdict("k", VERDICT, ttl_s=ttl_s)  # type: ignore[arg-type]
    assert len(store) == 0


async def test_values_redis_could_not_hold_are_refused(store: MemoryStore) -> None:
    with pytest.raises(TypeError):
        await store.set_verdict("k", {"when": object()}, ttl_s=60)
    with pytest.raises(ValueError):
        await store.set_verdict("k", {"score": float("nan")}, ttl_s=60)
    assert len(store) == 0


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
