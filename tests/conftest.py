"""Fixtures every test may use: settings, one real Redis with a per-test key prefix, started app clients.

Package conftests add their own: the shipped word list (tests/wordlist), the tiny Detoxify checkpoint and
torch's thread count (tests/model).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from service.app import create_app
from service.store.keys import Keys
from service.store.redis import RedisStore
from tests.support.fakes import FakeClock
from tests.support.redis_server import RedisServerError, delete_keys_under, redis_url_for_tests
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

E2E_DIR = Path(__file__).resolve().parent / "e2e"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/e2e/ runs the service or a script as a process: mark it e2e."""
    for item in items:
        if E2E_DIR in item.path.parents:
            item.add_marker(pytest.mark.e2e)


# Tests never reach the Hugging Face hub: every model they load is one they built.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session", autouse=True)
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """MODERATION_DATA_DIR (the outage journal's home) for what module- and session-wide fixtures start:
    never the user's own."""
    path = tmp_path_factory.mktemp("session-data")
    before = os.environ.get("MODERATION_DATA_DIR")
    os.environ["MODERATION_DATA_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("MODERATION_DATA_DIR", None)
    else:
        os.environ["MODERATION_DATA_DIR"] = before


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own MODERATION_DATA_DIR, for apps and served processes alike: never another test's
    journal replayed into this test's prefix."""
    path = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("MODERATION_DATA_DIR", str(path))
    return path


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
def key_prefix(redis_url: str) -> Iterator[str]:
    """A prefix of this test's own; its keys are deleted afterwards (never FLUSHDB a shared server)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_keys_under(redis_url, prefix)


@pytest.fixture
def keys(key_prefix: str) -> Keys:
    return Keys(key_prefix)


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[redis.Redis]:
    """A plain synchronous client, to look at what the service wrote without going through it."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
async def redis_store(redis_url: str, key_prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    yield store
    await store.aclose()


@pytest.fixture
def anyio_backend() -> str:
    # redis.asyncio runs on asyncio only; anyio's default would also try trio once it is installed.
    return "asyncio"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Builds a started app (lifespan run) around a scorer; closed at teardown."""
    opened: list[TestClient] = []

    def _make(scorer: Any = None, **overrides: Any) -> TestClient:
        scorer = scorer if scorer is not None else MarkerScorer()
        client = TestClient(
            create_app(make_settings(**overrides), scorer=scorer), raise_server_exceptions=False
        )
        client.__enter__()
        opened.append(client)
        return client

    yield _make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
