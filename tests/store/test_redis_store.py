"""What only the Redis store does, against real Redis servers over real connections (test_contract.py holds
what it shares with the memory store).

The shared server (TEST_REDIS_URL, default db 15 of the local one) serves the stored layout, malformed values
and refused commands, each test under its own key prefix. Outages use ThrowawayRedis servers the tests start
and kill themselves.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from collections.abc import Iterator

import anyio
import pytest
import redis

from service.store import CounterName, Keys, RedisStore, Store, StoreUnavailable, verdict_digest
from service.store.base import DecisionWrite, RecordWrite
from service.store.redis import mask_url
from tests.support.fakes import FakeClock
from tests.support.redis_server import ThrowawayRedis, free_port

pytestmark = pytest.mark.anyio

VERDICT = {
    "id": "c-1",
    "verdict": "review",
    "reasons": [{"clause": "personal", "source": "model", "category": "insult", "score": 0.71}],
    "notice": "Attaques personnelles — interdites",
    "cached": False,
}


DIGEST = verdict_digest("you utter clown", "policy-1", "rules-1", "toxic-bert@abc")


@pytest.fixture
def key(keys: Keys) -> str:
    """Where the store keeps the verdict named DIGEST, for looking at it without the store."""
    return keys.verdict(DIGEST)


# --- the cache, on the shared server ---------------------------------------------------------------


async def test_key_contents_are_the_exact_name_and_compact_json(
    redis_store: RedisStore, keys: Keys, raw_redis: redis.Redis
) -> None:
    await redis_store.set_verdict(DIGEST, VERDICT, ttl_s=60)
    [name] = list(raw_redis.scan_iter(match=f"{keys.prefix}*"))
    assert name == f"{keys.prefix}verdict:{DIGEST}"
    assert raw_redis.type(name) == "string"
    stored = raw_redis.get(name)
    assert stored == json.dumps(VERDICT, ensure_ascii=False, separators=(",", ":"))
    assert "Attaques personnelles — interdites" in stored  # UTF-8 as is, not \u escapes


async def test_ttl_is_set_on_the_key(redis_store: RedisStore, key: str, raw_redis: redis.Redis) -> None:
    await redis_store.set_verdict(DIGEST, VERDICT, ttl_s=300)
    assert 298 <= raw_redis.ttl(key) <= 300


async def test_setting_again_replaces_value_and_ttl(
    redis_store: RedisStore, key: str, raw_redis: redis.Redis
) -> None:
    await redis_store.set_verdict(DIGEST, VERDICT, ttl_s=300)
    await redis_store.set_verdict(DIGEST, {"verdict": "accept"}, ttl_s=30)
    assert await redis_store.get_verdict(DIGEST) == {"verdict": "accept"}
    assert 28 <= raw_redis.ttl(key) <= 30


async def test_verdict_expires_after_its_ttl(
    redis_store: RedisStore, key: str, raw_redis: redis.Redis
) -> None:
    await redis_store.set_verdict(DIGEST, VERDICT, ttl_s=1)
    assert await redis_store.get_verdict(DIGEST) == VERDICT
    await anyio.sleep(1.2)
    assert await redis_store.get_verdict(DIGEST) is None
    assert raw_redis.exists(key) == 0


@pytest.mark.parametrize(
    "stored", ["not json {", "[1, 2]", '"a string"', b"\xff\xfe{}", b"\xff\xfe{\x00}\x00"]
)
async def test_malformed_value_is_a_logged_miss(
    redis_store: RedisStore,
    key: str,
    raw_redis: redis.Redis,
    stored: str | bytes,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The last two are not UTF-8 (the last one is "{}" in UTF-16, which json.loads(bytes) would accept).
    raw_redis.set(key, stored, ex=60)
    with caplog.at_level(logging.WARNING, logger="service.store.redis"):
        assert await redis_store.get_verdict(DIGEST) is None
    assert key in caplog.text
    assert not redis_store.backing_off


async def test_redis_refusing_a_command_is_unavailable_but_not_an_outage(
    redis_store: RedisStore, key: str, raw_redis: redis.Redis
) -> None:
    raw_redis.rpush(key, "a list, not a string")  # GET answers WRONGTYPE
    with pytest.raises(StoreUnavailable, match="WRONGTYPE"):
        await redis_store.get_verdict(DIGEST)
    assert not redis_store.backing_off  # Redis answered: later calls still go to it
    await redis_store.set_verdict("other", VERDICT, ttl_s=60)
    assert await redis_store.get_verdict("other") == VERDICT


async def test_bad_ttl_or_value_is_a_programming_error_not_unavailability(
    redis_store: RedisStore, key: str, raw_redis: redis.Redis
) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await redis_store.set_verdict(DIGEST, VERDICT, ttl_s=0)
    with pytest.raises(TypeError):
        await redis_store.set_verdict(DIGEST, {"when": object()}, ttl_s=60)
    assert raw_redis.exists(key) == 0


async def test_protocol_members(redis_store: RedisStore, redis_url: str) -> None:
    assert isinstance(redis_store, Store)
    assert redis_store.kind == "redis"
    assert await redis_store.ping() is True
    assert redis_store.describe() == mask_url(redis_url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cr%40t@cache:6379/2", "redis://:***@cache:6379/2"),
        ("rediss://moderation:s3cret@cache.internal:6380/0", "rediss://moderation:***@cache.internal:6380/0"),
        ("redis://user@cache/0", "redis://user@cache/0"),
        ("redis://:p@ss:w0rd@cache:6379/0", "redis://:***@cache:6379/0"),
        ("unix:///run/redis.sock?db=1&password=s3cret", "unix:///run/redis.sock?db=1&password=***"),
    ],
)
def test_describe_masks_passwords(url: str, shown: str) -> None:
    assert mask_url(url) == shown


# --- the key layout (keys.py draws it): names, types and TTLs exactly as they have always been ------------


async def test_the_decision_data_lands_in_the_documented_keys(
    redis_store: RedisStore, keys: Keys, raw_redis: redis.Redis
) -> None:
    prefix = keys.prefix
    position = await redis_store.append_log({"kind": "verdict", "text": "ü"}, max_len=100, min_ms=0)
    await redis_store.set_status("c-1", {"status": "pending_review", "verdict": "review"}, ttl_s=None)
    await redis_store.set_status("c-2", {"status": "accepted"}, ttl_s=600, evictable=True)
    await redis_store.enqueue_review("c-1", 1_717_000_000_123)
    await redis_store.add_counts([CounterName("m", 28_616_666, "verdict", "review")], 7200)
    await redis_store.add_counts([CounterName("h", 476_944, "clause", "obscene")], 172_800)

    assert sorted(raw_redis.scan_iter(match=f"{prefix}*")) == sorted(
        [
            f"{prefix}log",
            f"{prefix}comment:c-1",
            f"{prefix}comment:c-2",
            f"{prefix}review:queue",
            f"{prefix}count:m:28616666:verdict:review",
            f"{prefix}count:h:476944:clause:obscene",
        ]
    )
    assert raw_redis.type(f"{prefix}log") == "stream"
    assert raw_redis.xrange(f"{prefix}log") == [(str(position), {"kind": "verdict", "text": "ü"})]
    assert raw_redis.type(f"{prefix}comment:c-1") == "hash"
    assert raw_redis.hgetall(f"{prefix}comment:c-1") == {"status": "pending_review", "verdict": "review"}
    assert raw_redis.ttl(f"{prefix}comment:c-1") == -1  # a pending review never expires
    assert 590 <= raw_redis.ttl(f"{prefix}comment:c-2") <= 600  # `evictable` changes nothing in Redis
    assert raw_redis.type(f"{prefix}review:queue") == "zset"
    assert raw_redis.zrange(f"{prefix}review:queue", 0, -1, withscores=True) == [("c-1", 1_717_000_000_123)]
    assert raw_redis.get(f"{prefix}count:m:28616666:verdict:review") == "1"
    assert 7100 < raw_redis.ttl(f"{prefix}count:m:28616666:verdict:review") <= 7200
    assert 172_700 < raw_redis.ttl(f"{prefix}count:h:476944:clause:obscene") <= 172_800


async def test_a_status_given_a_ttl_again_loses_it_when_it_is_pending_again(
    redis_store: RedisStore, keys: Keys, raw_redis: redis.Redis
) -> None:
    await redis_store.set_status("c-1", {"status": "approved"}, ttl_s=60)
    assert 50 < raw_redis.ttl(keys.comment("c-1")) <= 60
    await redis_store.set_status("c-1", {"status": "pending_review"}, ttl_s=None)
    assert raw_redis.ttl(keys.comment("c-1")) == -1


async def test_the_overflow_and_its_lost_count_land_in_their_documented_keys(
    redis_store: RedisStore, keys: Keys, raw_redis: redis.Redis
) -> None:
    prefix = keys.prefix
    for i in range(4):
        await redis_store.enqueue_review(f"c-{i}", 1_717_000_000_000 + i, limit=2, overflow_limit=1)
    assert raw_redis.type(f"{prefix}review:overflow") == "zset"
    assert raw_redis.zrange(f"{prefix}review:overflow", 0, -1, withscores=True) == [
        ("c-1", 1_717_000_000_001)
    ]
    assert raw_redis.zrange(f"{prefix}review:queue", 0, -1) == ["c-2", "c-3"]
    assert raw_redis.get(f"{prefix}review:overflow:lost") == "1"
    assert raw_redis.ttl(f"{prefix}review:overflow:lost") == -1  # a running total


async def test_a_claimed_status_takes_the_ttl_of_its_claim(
    redis_store: RedisStore, keys: Keys, raw_redis: redis.Redis
) -> None:
    await redis_store.claim_status("c-1", {"status": "accepted"}, ttl_s=600)
    await redis_store.claim_status("c-2", {"status": "pending_review"}, ttl_s=None)
    assert 590 <= raw_redis.ttl(keys.comment("c-1")) <= 600
    assert raw_redis.ttl(keys.comment("c-2")) == -1
    # A lost claim changes nothing, the TTL included.
    assert await redis_store.claim_status("c-2", {"status": "accepted"}, ttl_s=5) == {
        "status": "pending_review"
    }
    assert raw_redis.ttl(keys.comment("c-2")) == -1


# --- outages, on servers the tests own ---------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[ThrowawayRedis]:
    with ThrowawayRedis() as throwaway:
        yield throwaway


async def test_redis_going_away_and_coming_back(server: ThrowawayRedis) -> None:
    store = RedisStore.from_url(server.url, backoff_initial_s=0.2, backoff_max_s=0.4)
    try:
        await store.set_verdict("k", VERDICT, ttl_s=60)
        assert await store.get_verdict("k") == VERDICT

        server.stop()
        for call in (store.get_verdict("k"), store.set_verdict("k", VERDICT, ttl_s=60)):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable):
                await call
            assert time.monotonic() - started < 1.0
        started = time.monotonic()
        assert await store.ping() is False
        assert time.monotonic() - started < 1.0

        server.start()  # same port, empty: no persistence
        deadline = time.monotonic() + 5
        while True:  # the same store object, never rebuilt, picks Redis up again after its backoff
            try:
                assert await store.get_verdict("k") is None
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover after Redis came back"
                await anyio.sleep(0.05)
        assert not store.backing_off
        await store.set_verdict("k", VERDICT, ttl_s=60)
        assert await store.get_verdict("k") == VERDICT
        assert await store.ping() is True
    finally:
        await store.aclose()


async def test_the_scripts_fail_as_unavailable_and_work_again_on_a_restarted_redis(
    server: ThrowawayRedis,
) -> None:
    # A restarted Redis has forgotten every loaded script: the store must load them again by itself.
    store = RedisStore.from_url(server.url, backoff_initial_s=0.2, backoff_max_s=0.4)
    try:
        assert await store.claim_status("c-1", {"status": "accepted"}, ttl_s=60) is None
        await store.enqueue_review("c-2", 1, limit=1)
        server.stop()
        for call in (
            store.claim_status("c-3", {"status": "accepted"}, ttl_s=60),
            store.set_status("c-1", {"status": "rejected"}, ttl_s=60, if_status_in=("accepted",)),
            store.enqueue_review("c-4", 2, limit=1),
        ):
            with pytest.raises(StoreUnavailable):
                await call
        server.start()  # same port, empty: no persistence, no scripts
        deadline = time.monotonic() + 5
        while True:
            try:
                assert await store.claim_status("c-1", {"status": "accepted"}, ttl_s=60) is None
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover after Redis came back"
                await anyio.sleep(0.05)
        assert await store.set_status("c-1", {"status": "rejected"}, ttl_s=60, if_status_in=("accepted",))
        assert await store.enqueue_review("c-4", 2, limit=1) == (0, ())
        # The whole-record and decision scripts, sent in a pipeline (EVALSHA), are loaded again too.
        record = RecordWrite("c-5", {"status": "pending_review"}, ttl_s=None, evictable=False)
        decision = DecisionWrite(
            "c-5", "pending_review", False, {"status": "approved"}, 60, {"kind": "moderator"}, 100, 0
        )
        server.stop()
        server.start()
        deadline = time.monotonic() + 5
        while True:
            try:
                assert [r.written for r in await store.write_records([record, record])] == [True, False]
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover after Redis came back"
                await anyio.sleep(0.05)
        server.stop()
        server.start()
        deadline = time.monotonic() + 5
        while True:
            try:
                assert (await store.apply_decision(decision)).outcome == "changed"  # nothing survived
                break
            except StoreUnavailable:
                assert time.monotonic() < deadline, "the store did not recover after Redis came back"
                await anyio.sleep(0.05)
    finally:
        await store.aclose()


def _connections_received(server: ThrowawayRedis) -> int:
    client = redis.Redis.from_url(server.url)
    try:
        # Our own connection counts too, so measure with one client throughout.
        return int(client.info("stats")["total_connections_received"])
    finally:
        client.close()


async def test_during_the_backoff_redis_is_not_asked_and_the_backoff_doubles_to_its_cap(
    clock: FakeClock,
) -> None:
    port = free_port()
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", clock=clock)  # 1 s doubling to 10 s
    try:
        with pytest.raises(StoreUnavailable):
            await store.get_verdict("k")  # connection refused: nothing listens yet
        assert store.backing_off

        with ThrowawayRedis(port=port) as server:
            before = _connections_received(server)
            clock.advance(0.9)
            with pytest.raises(StoreUnavailable, match="skipped"):
                await store.get_verdict("k")  # Redis is back, but the store doesn't ask yet
            with pytest.raises(StoreUnavailable, match="skipped"):
                await store.set_verdict("k", VERDICT, ttl_s=60)
            assert _connections_received(server) == before + 1  # only the measuring client's own

            clock.advance(0.1)
            assert await store.get_verdict("k") is None  # the probe after the backoff succeeds

        # Gone again: each failed probe doubles the pause, which starts again from 1 s after a success.
        for expected_pause in (1, 2, 4, 8, 10, 10):
            with pytest.raises(StoreUnavailable, match="unavailable"):
                await store.get_verdict("k")
            clock.advance(expected_pause - 0.01)
            assert store.backing_off
            clock.advance(0.01)
            assert not store.backing_off
    finally:
        await store.aclose()


async def test_a_successful_ping_ends_the_backoff_early(clock: FakeClock) -> None:
    port = free_port()
    store = RedisStore.from_url(f"redis://127.0.0.1:{port}/0", clock=clock)
    try:
        assert await store.ping() is False
        assert store.backing_off
        with ThrowawayRedis(port=port):
            assert await store.ping() is True
            assert not store.backing_off
            await store.set_verdict("k", VERDICT, ttl_s=60)
            assert await store.get_verdict("k") == VERDICT
    finally:
        await store.aclose()


async def test_concurrent_failures_start_one_backoff_not_many(clock: FakeClock) -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", clock=clock)
    failures: list[BaseException] = []

    async def get() -> None:
        try:
            await store.get_verdict("k")
        except StoreUnavailable as exc:
            failures.append(exc)

    try:
        async with anyio.create_task_group() as tasks:
            for _ in range(10):
                tasks.start_soon(get)
        assert len(failures) == 10
        clock.advance(1.0)  # ten simultaneous failures still mean the first, 1 s pause
        assert not store.backing_off
    finally:
        await store.aclose()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word: a hung Redis."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


async def test_a_hung_redis_cannot_stall_a_request(silent_server: int) -> None:
    store = RedisStore.from_url(f"redis://127.0.0.1:{silent_server}/0", socket_timeout_s=0.25)
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await store.get_verdict("k")
        assert time.monotonic() - started < 1.0
        # ping ignores the backoff (it is what /readyz asks), so it meets the hung server too.
        started = time.monotonic()
        assert await store.ping() is False
        assert time.monotonic() - started < 1.0
    finally:
        await store.aclose()
