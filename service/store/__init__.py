"""Storage: the `VerdictCache`, `DecisionStore`, `SessionStore` and `ApiKeyStore` protocols (one `Store` is all
four), Redis and memory; login rate limits beside them (ratelimits.py); the sites' API keys also in a file
(keyfile.py, for embedded runs without Redis).

Callers open one store at startup with `open_store(REDIS_URL, prefix=REDIS_PREFIX)`, name a verdict by
`verdict_digest(text, policy_version, rules_version, model_id)`, a log position by a `LogCursor`, and treat
`StoreUnavailable` from it as "carry on uncached". Key names are the Redis store's own business (keys.py).
"""

from __future__ import annotations

import logging

from service.store.base import (
    ApiKeyRecord,
    ApiKeyStore,
    CounterName,
    DecisionStore,
    LogCursor,
    LogEntry,
    Store,
    StoreFull,
    StoreUnavailable,
    VerdictCache,
)
from service.store.keyfile import KeyFile, KeyFileError
from service.store.keys import DEFAULT_PREFIX, Keys, verdict_digest
from service.store.memory import MemoryStore
from service.store.redis import RedisStore

__all__ = [
    "ApiKeyRecord",
    "ApiKeyStore",
    "CounterName",
    "DecisionStore",
    "KeyFile",
    "KeyFileError",
    "Keys",
    "LogCursor",
    "LogEntry",
    "MemoryStore",
    "RedisStore",
    "Store",
    "StoreFull",
    "StoreUnavailable",
    "VerdictCache",
    "open_store",
    "verdict_digest",
]

log = logging.getLogger(__name__)


def open_store(
    redis_url: str | None,
    *,
    prefix: str = DEFAULT_PREFIX,
    socket_timeout_s: float = 0.5,
    memory_max_entries: int = 100_000,
    memory_max_held: int = 100_000,
) -> Store:
    """A RedisStore on `redis_url` for the deployment under `prefix`, or a MemoryStore when the URL is unset
    or empty. Logs which one.

    Nothing is connected here: a Redis that is down at startup makes /readyz say so and requests go
    uncached until it answers, rather than keeping the service from starting.
    """
    if redis_url:
        store: Store = RedisStore.from_url(redis_url, prefix=prefix, socket_timeout_s=socket_timeout_s)
        log.info("verdict cache: Redis at %s", store.describe())
    else:
        store = MemoryStore(max_entries=memory_max_entries, max_held=memory_max_held)
        log.warning(
            "verdict cache: REDIS_URL is unset, caching in process memory (at most %d verdicts, "
            "not shared between workers, lost on restart); the decision log, the review queue and statuses "
            "too (at most %d pending reviews and moderators' decisions, lost on restart)",
            memory_max_entries,
            memory_max_held,
        )
    return store
