from __future__ import annotations

import logging
from typing import Any

import pytest

from service.store import MemoryStore, RedisStore, Store, open_store
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.anyio

VERDICT = {"verdict": "reject", "reasons": [{"clause": "obscene", "score": 0.93}], "cached": False}


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(max_entries=3, clock=clock)


async def test_miss_then_hit(store: MemoryStore) -> None:
    assert await store.get_verdict("k") is None
    await store.set_verdict("k", VERDICT, ttl_s=60)
    assert await store.get_verdict("k") == VERDICT


async def test_cached_verdict_is_a_copy_either_way(store: MemoryStore) -> None:
    verdict: dict[str, Any] = {"verdict": "accept", "reasons": []}
    await store.set_verdict("k", verdict, ttl_s=60)
    verdict["reasons"].append("changed after set")
    first = await store.get_verdict("k")
    assert first == {"verdict": "accept", "reasons": []}
    assert first is not None
    first["verdict"] = "changed after get"
    assert await store.get_verdict("k") == {"verdict": "accept", "reasons": []}


async def test_ttl_is_honoured_and_expired_entries_are_dropped_on_read(
    store: MemoryStore, clock: FakeClock
) -> None:
    await store.set_verdict("k", VERDICT, ttl_s=10)
    clock.advance(9.99)
    assert await store.get_verdict("k") == VERDICT
    clock.advance(0.01)
    assert await store.get_verdict("k") is None
    assert len(store) == 0


async def test_setting_again_replaces_value_and_ttl(store: MemoryStore, clock: FakeClock) -> None:
    await store.set_verdict("k", VERDICT, ttl_s=10)
    clock.advance(8)
    await store.set_verdict("k", {"verdict": "accept"}, ttl_s=10)
    clock.advance(8)
    assert await store.get_verdict("k") == {"verdict": "accept"}


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
