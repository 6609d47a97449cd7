"""Storage: the `Store` protocol, its Redis and in-memory implementations, and every key name.

Callers open one store at startup with `open_store(REDIS_URL)`, name a verdict with
`Keys(prefix).verdict(verdict_digest(text, policy_version, rules_version, model_id))`, and treat
`StoreUnavailable` from it as "carry on uncached".
"""

from __future__ import annotations

import logging

from service.store.base import Store, StoreUnavailable
from service.store.keys import Keys, verdict_digest
from service.store.memory import MemoryStore
from service.store.redis import RedisStore

__all__ = ["Keys", "MemoryStore", "RedisStore", "Store", "StoreUnavailable", "open_store", "verdict_digest"]

log = logging.getLogger(__name__)


def open_store(
    redis_url: str | None,
    *,
    socket_timeout_s: float = 0.5,
    memory_max_entries: int = 100_000,
) -> Store:
    """A RedisStore on `redis_url`, or a MemoryStore when it is unset or empty. Logs which one.

    Nothing is connected here: a Redis that is down at startup makes /readyz say so and requests go
    uncached until it answers, rather than keeping the service from starting.
    """
    if redis_url:
        store: Store = RedisStore.from_url(redis_url, socket_timeout_s=socket_timeout_s)
        log.info("verdict cache: Redis at %s", store.describe())
    else:
        store = MemoryStore(max_entries=memory_max_entries)
        log.warning(
            "verdict cache: REDIS_URL is unset, caching in process memory (at most %d verdicts, "
            "not shared between workers, lost on restart)",
            memory_max_entries,
        )
    return store
