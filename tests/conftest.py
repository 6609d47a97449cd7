"""Shared fixtures: settings, a real Redis with a per-test key prefix, app clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from service.app import create_app
from service.config import Settings
from tests.redis_server import delete_keys_under
from tests.scorers import MarkerScorer

# Tests never reach the Hugging Face hub: every model they load is one they built.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url() -> str:
    return TEST_REDIS_URL


@pytest.fixture
def key_prefix(redis_url: str) -> Iterator[str]:
    """A prefix of this test's own; its keys are deleted afterwards (never FLUSHDB a shared server)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    delete_keys_under(redis_url, prefix)


@pytest.fixture
def raw_redis(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {"MODEL": "unbiased", "REDIS_URL": None, "LOG_LEVEL": "WARNING"}
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def make_client() -> Iterator[Callable[..., TestClient]]:
    """Builds a started app (lifespan run) around a scorer; closed at teardown."""
    opened: list[TestClient] = []

    def _make(scorer: Any = None, **overrides: Any) -> TestClient:
        scorer = scorer if scorer is not None else MarkerScorer()
        client = TestClient(create_app(make_settings(**overrides), scorer=scorer), raise_server_exceptions=False)
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
