"""The sites' API keys in each storage: one behavioural suite for memory, a real Redis and the key file, then
what only Redis and only the file do (their layout, the file's format, permissions and concurrent writers).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from service.store import ApiKeyRecord, ApiKeyStore, KeyFile, KeyFileError, MemoryStore, RedisStore
from service.store.base import StoreUnavailable
from service.store.keyfile import FORMAT
from tests.support.redis_server import ThrowawayRedis

pytestmark = pytest.mark.anyio

DIGEST = "a" * 64


def _record(key_id: str, site: str = "example.org", created_ms: int = 1_000) -> ApiKeyRecord:
    return ApiKeyRecord(id=key_id, site=site, digest=DIGEST, created_ms=created_ms)


@pytest.fixture(params=["memory", "redis", "file"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ApiKeyStore]:
    if request.param == "memory":
        yield MemoryStore()
    elif request.param == "file":
        yield KeyFile(tmp_path / "keys" / "keys.json")
    else:
        redis_url, prefix = request.getfixturevalue("redis_url"), request.getfixturevalue("key_prefix")
        s = RedisStore.from_url(redis_url, prefix=prefix)
        yield s
        await s.aclose()


# -- every storage -------------------------------------------------------------------------------------------


async def test_a_key_is_stored_once_under_its_id_and_read_back(store: ApiKeyStore) -> None:
    assert isinstance(store, ApiKeyStore)
    assert await store.get_api_key("k1") is None
    assert await store.add_api_key(_record("k1")) is True
    assert await store.get_api_key("k1") == _record("k1")
    # An id is taken once: the second record is refused and the first stays.
    assert await store.add_api_key(_record("k1", site="other.org")) is False
    assert await store.get_api_key("k1") == _record("k1")


async def test_keys_are_listed_oldest_first_revoked_ones_included(store: ApiKeyStore) -> None:
    assert await store.list_api_keys() == []
    for key_id, created in (("k2", 2_000), ("k1", 1_000), ("k3", 3_000)):
        await store.add_api_key(_record(key_id, created_ms=created))
    await store.revoke_api_key("k2", 5_000)
    listed = await store.list_api_keys()
    assert [r.id for r in listed] == ["k1", "k2", "k3"]
    assert [r.revoked_ms for r in listed] == [None, 5_000, None]


async def test_revoking_holds_at_once_and_keeps_the_first_time(store: ApiKeyStore) -> None:
    await store.add_api_key(_record("k1"))
    revoked = await store.revoke_api_key("k1", 5_000)
    assert revoked is not None and revoked.revoked and revoked.revoked_ms == 5_000
    got = await store.get_api_key("k1")
    assert got is not None and got.revoked_ms == 5_000
    again = await store.revoke_api_key("k1", 9_000)
    assert again is not None and again.revoked_ms == 5_000
    assert await store.revoke_api_key("unknown", 5_000) is None
    assert await store.get_api_key("unknown") is None


@pytest.mark.parametrize("key_id", ["", "a b", "a:b", "tab\t"])
async def test_an_id_that_could_not_be_a_key_name_is_refused(store: ApiKeyStore, key_id: str) -> None:
    with pytest.raises(ValueError):
        await store.get_api_key(key_id)
    with pytest.raises(ValueError):
        await store.revoke_api_key(key_id, 1)


async def test_of_concurrent_creators_of_one_id_exactly_one_wins(store: ApiKeyStore) -> None:
    results = await asyncio.gather(*(store.add_api_key(_record("k1", site=f"s{i}.org")) for i in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    assert len(await store.list_api_keys()) == 1


# -- Redis -------------------------------------------------------------------------------------------------


async def test_redis_keeps_a_hash_per_key_and_a_set_of_ids_never_the_key(redis_store, raw_redis, key_prefix):
    await redis_store.add_api_key(_record("k1"))
    assert sorted(raw_redis.keys(f"{key_prefix}*")) == [f"{key_prefix}api-key:k1", f"{key_prefix}api-keys"]
    assert raw_redis.hgetall(f"{key_prefix}api-key:k1") == {
        "site": "example.org",
        "sha256": DIGEST,
        "created_ms": "1000",
        "revoked_ms": "",
    }
    assert raw_redis.ttl(f"{key_prefix}api-key:k1") == -1  # kept: a key does not expire by itself
    assert raw_redis.smembers(f"{key_prefix}api-keys") == {"k1"}


async def test_a_record_redis_cannot_parse_is_an_unknown_key(redis_store, raw_redis, key_prefix):
    raw_redis.hset(f"{key_prefix}api-key:k9", mapping={"site": "x.org", "created_ms": "not a number"})
    raw_redis.sadd(f"{key_prefix}api-keys", "k9")
    assert await redis_store.get_api_key("k9") is None
    assert await redis_store.list_api_keys() == []


async def test_two_processes_stores_on_one_redis_see_each_others_keys_at_once(redis_url, key_prefix):
    # Two service processes, two connections: what one writes the other reads at its next call (no cache).
    one = RedisStore.from_url(redis_url, prefix=key_prefix)
    two = RedisStore.from_url(redis_url, prefix=key_prefix)
    try:
        await one.add_api_key(_record("k1"))
        got = await two.get_api_key("k1")
        assert got is not None and not got.revoked
        await one.revoke_api_key("k1", 5_000)
        got = await two.get_api_key("k1")
        assert got is not None and got.revoked
    finally:
        await one.aclose()
        await two.aclose()


async def test_redis_down_is_store_unavailable():
    with ThrowawayRedis() as server:
        store = RedisStore.from_url(server.url, prefix="t:")
        await store.add_api_key(_record("k1"))
        server.stop()
        with pytest.raises(StoreUnavailable):
            await store.get_api_key("k1")
        await store.aclose()


# -- the key file ------------------------------------------------------------------------------------------


async def test_the_file_is_json_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys.json"
    store = KeyFile(path)
    await store.add_api_key(_record("k1"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text()) == {
        "format": FORMAT,
        "keys": [
            {"id": "k1", "site": "example.org", "sha256": DIGEST, "created_ms": 1000, "revoked_ms": None}
        ],
    }
    # No temporary file is left behind, only the writers' lock.
    assert sorted(p.name for p in path.parent.iterdir()) == ["keys.json", "keys.json.lock"]


async def test_a_missing_file_holds_no_keys(tmp_path: Path) -> None:
    store = KeyFile(tmp_path / "nothing-yet.json")
    store.check()
    assert await store.list_api_keys() == []
    assert await store.get_api_key("k1") is None


async def test_a_reader_sees_another_writers_change_at_its_next_call(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    service, command = KeyFile(path), KeyFile(path)
    assert await service.get_api_key("k1") is None
    await command.add_api_key(_record("k1"))
    got = await service.get_api_key("k1")
    assert got is not None and not got.revoked
    await command.revoke_api_key("k1", 5_000)
    got = await service.get_api_key("k1")
    assert got is not None and got.revoked_ms == 5_000


@pytest.mark.parametrize("mode", [0o620, 0o602, 0o666])
async def test_a_file_others_may_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    await KeyFile(path).add_api_key(_record("k1"))
    path.chmod(mode)
    store = KeyFile(path)
    with pytest.raises(KeyFileError, match="chmod 600"):
        await store.get_api_key("k1")
    with pytest.raises(KeyFileError):
        store.check()
    assert isinstance(KeyFileError("x"), StoreUnavailable)  # callers treat it as keys they cannot read


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"format": "something-else/1", "keys": []}',
        json.dumps({"format": FORMAT, "keys": {}}),
        json.dumps({"format": FORMAT, "keys": [{"id": "k1", "site": "s", "sha256": "d"}]}),
        json.dumps({"format": FORMAT, "keys": [{"id": "k 1", "site": "s", "sha256": "d", "created_ms": 1}]}),
        json.dumps(
            {"format": FORMAT, "keys": [{"id": "k1", "site": "s", "sha256": "d", "created_ms": 1}] * 2}
        ),
    ],
)
async def test_a_file_that_is_not_a_key_list_is_refused_with_its_reason(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=str(path)):
        await KeyFile(path).list_api_keys()


def _add_many(path: str, worker: int, count: int) -> None:
    async def add() -> None:
        store = KeyFile(Path(path))
        for i in range(count):
            assert await store.add_api_key(_record(f"w{worker}k{i}", created_ms=i))

    asyncio.run(add())


def test_concurrent_commands_lose_no_key(tmp_path: Path) -> None:
    # Several `moderation keys create` at once, each its own process: every key ends up in the file.
    path = tmp_path / "keys.json"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(str(path), w, 15)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
    assert [p.exitcode for p in workers] == [0, 0, 0, 0]
    records = asyncio.run(KeyFile(path).list_api_keys())
    assert len(records) == 60


async def test_a_place_the_file_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    # Its folder is a regular file: no one, root included, can make a file in it.
    (tmp_path / "not-a-folder").write_text("")
    with pytest.raises(KeyFileError, match="cannot write the API key file"):
        await KeyFile(tmp_path / "not-a-folder" / "keys.json").add_api_key(_record("k1"))
