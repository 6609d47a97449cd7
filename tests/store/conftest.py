"""Fixtures for the storage tests: a real Redis, a per-test key prefix, a clock the test moves."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from service.store import Keys, RedisStore
from tests.redis_server import RedisServerError, delete_keys_under, redis_url_for_tests
from tests.store.fakes import FakeClock


@pytest.fixture
def anyio_backend() -> str:
    # redis.asyncio runs on asyncio only; anyio's default would also try trio once it is installed.
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """TEST_REDIS_URL, else redis://127.0.0.1:6379/15 when it answers, else a throwaway server."""
    try:
        with redis_url_for_tests() as url:
            yield url
    except RedisServerError as exc:
        if os.environ.get("TEST_REDIS_URL"):
            pytest.fail(str(exc))
        pytest.skip(f"no Redis for the tests: {exc}")


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[redis.Redis]:
    """A plain synchronous client, to look at what the store wrote without going through it."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def keys(redis_url: str) -> Iterator[Keys]:
    """Keys under a prefix of this test's own; its keys are deleted afterwards (never FLUSHDB)."""
    prefix = f"test-{uuid.uuid4().hex}:"
    yield Keys(prefix)
    delete_keys_under(redis_url, prefix)


@pytest.fixture
async def redis_store(redis_url: str) -> AsyncIterator[RedisStore]:
    store = RedisStore.from_url(redis_url)
    yield store
    await store.aclose()
