"""The webhook outbox's store: the same behaviour in Redis (a Stream with a consumer group) and in memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import redis

from service.store.base import LogCursor
from service.store.keys import Keys
from service.store.outbox import GROUP, MemoryOutbox, Outbox, OutboxEntry, OutboxFull, RedisOutbox

pytestmark = pytest.mark.anyio

IDLE_MS = 150


@pytest.fixture(params=["redis", "memory"])
async def make_outbox(request: pytest.FixtureRequest, redis_url: str, key_prefix: str) -> AsyncIterator:
    opened: list[Outbox] = []

    def make(max_entries: int = 100, dead_max: int = 10) -> Outbox:
        outbox: Outbox = (
            RedisOutbox.from_url(redis_url, prefix=key_prefix, max_entries=max_entries, dead_max=dead_max)
            if request.param == "redis"
            else MemoryOutbox(max_entries=max_entries, dead_max=dead_max)
        )
        opened.append(outbox)
        return outbox

    yield make
    for outbox in opened:
        await outbox.aclose()


def _body(n: int) -> str:
    return json.dumps({"delivery_id": f"d{n}", "comment_id": f"c{n}"})


async def test_an_entry_goes_to_one_consumer_and_ack_removes_it(make_outbox):
    outbox = make_outbox()
    await outbox.prepare("a", forget_idle_ms=1000)
    entry_id = await outbox.enqueue(_body(1), "d1")
    assert await outbox.depth() == 1
    [entry] = await outbox.read_new("a", 10)
    assert entry == OutboxEntry(entry_id, _body(1), "d1")
    assert await outbox.read_new("b", 10) == []  # handed out once
    assert await outbox.begin_attempt(entry_id, "a") == 1
    assert await outbox.begin_attempt(entry_id, "a") == 2
    await outbox.ack(entry_id)
    assert await outbox.depth() == 0
    assert await outbox.begin_attempt(entry_id, "a") is None  # gone: nobody attempts it again
    assert not await outbox.touch(entry_id, "a")


async def test_entries_enqueued_before_any_worker_are_read(make_outbox):
    outbox = make_outbox()
    await outbox.enqueue(_body(1), "d1")
    await outbox.enqueue(_body(2), "d2")
    await outbox.prepare("a", forget_idle_ms=1000)
    assert [e.delivery_id for e in await outbox.read_new("a", 10)] == ["d1", "d2"]


async def test_a_dead_consumers_entry_is_claimed_after_the_idle_time_with_its_count(make_outbox):
    outbox = make_outbox()
    await outbox.prepare("dead", forget_idle_ms=1000)
    entry_id = await outbox.enqueue(_body(1), "d1")
    await outbox.read_new("dead", 10)
    assert await outbox.begin_attempt(entry_id, "dead") == 1
    assert await outbox.claim("alive", IDLE_MS, 10) == []  # not idle long enough yet
    await asyncio.sleep(IDLE_MS / 1000 + 0.05)
    [claimed] = await outbox.claim("alive", IDLE_MS, 10)
    assert claimed.entry_id == entry_id and claimed.body == _body(1)
    assert await outbox.claim("third", IDLE_MS, 10) == []  # claiming resets the idle time
    assert await outbox.begin_attempt(entry_id, "alive") == 2  # the count survived the takeover


async def test_touching_keeps_an_entry_from_being_claimed(make_outbox):
    outbox = make_outbox()
    await outbox.prepare("a", forget_idle_ms=1000)
    entry_id = await outbox.enqueue(_body(1), "d1")
    await outbox.read_new("a", 10)
    for _ in range(4):
        await asyncio.sleep(IDLE_MS / 3000)
        assert await outbox.touch(entry_id, "a")
    assert await outbox.claim("b", IDLE_MS, 10) == []


async def test_the_outbox_is_capped(make_outbox):
    outbox = make_outbox(max_entries=2)
    await outbox.enqueue(_body(1), "d1")
    second = await outbox.enqueue(_body(2), "d2")
    with pytest.raises(OutboxFull, match="2 deliveries"):
        await outbox.enqueue(_body(3), "d3")
    await outbox.prepare("a", forget_idle_ms=1000)
    await outbox.read_new("a", 10)
    await outbox.ack(second)
    await outbox.enqueue(_body(3), "d3")  # room again once one is delivered
    assert await outbox.depth() == 2


async def test_dead_letters_newest_first_paginated_capped_and_retried_once(make_outbox):
    outbox = make_outbox(dead_max=3)
    await outbox.prepare("a", forget_idle_ms=1000)
    for n in range(5):
        await outbox.enqueue(_body(n), f"d{n}")
    entries = await outbox.read_new("a", 10)
    dead_ids = [await outbox.dead_letter(e, 6, f"HTTP 50{n}") for n, e in enumerate(entries)]
    assert await outbox.depth() == 0 and await outbox.dead_count() == 3  # the oldest two dropped
    page = await outbox.dead_page(None, 2)
    assert [d.delivery_id for d in page] == ["d4", "d3"]
    assert (page[0].attempts, page[0].error, page[0].payload["comment_id"]) == (6, "HTTP 504", "c4")
    assert page[0].failed_ms > 0
    older = await outbox.dead_page(LogCursor.parse(page[-1].dead_id), 2)
    assert [d.delivery_id for d in older] == ["d2"]

    entry_id = await outbox.retry_dead(dead_ids[3])
    assert entry_id is not None
    assert await outbox.retry_dead(dead_ids[3]) is None  # a second click does not send it twice
    assert await outbox.dead_count() == 2
    [again] = await outbox.read_new("a", 10)
    assert (again.entry_id, again.delivery_id, again.body) == (entry_id, "d3", _body(3))
    assert await outbox.begin_attempt(entry_id, "a") == 1  # a fresh count
    with pytest.raises(ValueError):
        await outbox.retry_dead("not-an-id")


async def test_retrying_into_a_full_outbox_keeps_the_dead_letter(make_outbox):
    outbox = make_outbox(max_entries=1)
    await outbox.prepare("a", forget_idle_ms=1000)
    await outbox.enqueue(_body(1), "d1")
    [entry] = await outbox.read_new("a", 1)
    dead_id = await outbox.dead_letter(entry, 1, "HTTP 400")
    await outbox.enqueue(_body(2), "d2")
    with pytest.raises(OutboxFull):
        await outbox.retry_dead(dead_id)
    assert await outbox.dead_count() == 1


async def test_a_long_error_is_cut(make_outbox):
    outbox = make_outbox()
    await outbox.prepare("a", forget_idle_ms=1000)
    await outbox.enqueue(_body(1), "d1")
    [entry] = await outbox.read_new("a", 1)
    await outbox.dead_letter(entry, 1, "x" * 5000)
    [dead] = await outbox.dead_page(None, 1)
    assert len(dead.error) == 500


async def test_redis_keys_are_named_in_keys_py_and_consumers_without_work_are_forgotten(
    redis_url: str, key_prefix: str, raw_redis: redis.Redis
):
    outbox = RedisOutbox.from_url(redis_url, prefix=key_prefix)
    keys = Keys(key_prefix)
    try:
        await outbox.prepare("old", forget_idle_ms=1000)
        entry_id = await outbox.enqueue(_body(1), "d1")
        await outbox.read_new("old", 1)
        await outbox.begin_attempt(entry_id, "old")
        assert set(raw_redis.keys(f"{key_prefix}*")) == {keys.webhook_outbox(), keys.webhook_attempts()}
        await outbox.dead_letter(OutboxEntry(entry_id, _body(1), "d1"), 1, "HTTP 500")
        assert set(raw_redis.keys(f"{key_prefix}*")) == {keys.webhook_outbox(), keys.webhook_dead()}
        await asyncio.sleep(0.05)
        await outbox.prepare("new", forget_idle_ms=10)
        names = [c["name"] for c in raw_redis.xinfo_consumers(keys.webhook_outbox(), GROUP)]
        assert "old" not in names
    finally:
        await outbox.aclose()
