"""Rate limits shared by every process of a deployment (login hardening, issue 10).

Moving windows from the `limits` package, kept in Redis under the deployment's prefix (`Keys.login_limits`)
so that every worker and every instance on that Redis counts the same attempts, or in process memory
without REDIS_URL. A moving window allows at most N hits in ANY window of its length, so a client cannot
double its budget at a window's edge as it could against fixed windows, and the moment a slot frees is
known exactly (the oldest hit in the window ages out): that is the Retry-After a refusal carries.

As with the store, a Redis that is down or slow never makes a request hang or fail with a driver's
exception: short timeouts, no retries, and every storage error becomes `StoreUnavailable`. What the caller
does then is its choice; the login refuses (no guessing while attempts cannot be counted).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, TypeVar, cast

import limits
import limits.errors
import redis.asyncio as aioredis
import redis.exceptions as redis_errors
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from service.store.base import StoreUnavailable
from service.store.keys import DEFAULT_PREFIX, Keys
from service.store.redis import mask_url

log = logging.getLogger(__name__)

RateLimitItem = limits.RateLimitItem
T = TypeVar("T")

_STORAGE_ERRORS: tuple[type[BaseException], ...] = (
    limits.errors.StorageError,
    redis_errors.RedisError,
    TimeoutError,
    OSError,
)


def parse_limits(text: str) -> list[RateLimitItem]:
    """`limits` notation, several separated by ';' (e.g. "10/minute;60/hour"). Raises ValueError."""
    items = limits.parse_many(text)
    if not items:
        raise ValueError(f"no rate limit in {text!r}")
    return items


class RateLimits:
    """Named moving-window limits on one storage; `hit` counts, `retry_after_s` says when to come back."""

    def __init__(
        self,
        storage: Storage,
        *,
        kind: Literal["redis", "memory"],
        pool: aioredis.ConnectionPool | None = None,
        operation_timeout_s: float = 1.1,
    ) -> None:
        self._storage = storage
        self._pool = pool
        self._limiter = MovingWindowRateLimiter(storage)
        self._operation_timeout_s = operation_timeout_s
        self.kind = kind

    @classmethod
    def open(
        cls,
        redis_url: str | None,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout_s: float = 0.5,
        name: Callable[[Keys], str] = Keys.login_limits,
    ) -> RateLimits:
        """Limits in Redis at `redis_url` under the deployment's `prefix`, or in memory when it is unset; `name`
        is the `Keys` method that names their keys (the login's, or the widget's pre-checks'). Connects
        lazily."""
        if not redis_url:
            return cls(MemoryStorage(), kind="memory")
        # Our own pool, so that its timeouts are the store's and `aclose` can release it.
        pool = aioredis.ConnectionPool.from_url(
            redis_url,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            # Retrying would double the wait on a Redis that is gone; the caller answers 503 instead.
            retry=Retry(NoBackoff(), 0),
        )
        # `limits` reads the scheme to choose a client; a unix socket URL needs its "redis+" spelt out.
        uri = redis_url if redis_url.startswith(("redis://", "rediss://")) else f"redis+{redis_url}"
        options: dict[str, Any] = {"connection_pool": pool}
        storage = RedisStorage(
            uri,
            implementation="redispy",
            key_prefix=name(Keys(prefix)),
            wrap_exceptions=True,
            **cast(dict[str, float | str | bool], options),
        )
        log.info("rate limits (%s): Redis at %s", name(Keys(prefix)), mask_url(redis_url))
        return cls(storage, kind="redis", pool=pool, operation_timeout_s=2 * socket_timeout_s + 0.1)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        """Count one hit against `item` for `identifiers`; False (and nothing counted) when it is used up."""
        return await self._call(lambda: self._limiter.hit(item, *identifiers))

    async def retry_after_s(self, item: RateLimitItem, *identifiers: str) -> int:
        """Whole seconds until `item` allows another hit for `identifiers`: 0 when it allows one now."""
        stats = await self._call(lambda: self._limiter.get_window_stats(item, *identifiers))
        if stats.remaining > 0:
            return 0
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def aclose(self) -> None:
        """Release the Redis connections, or stop the memory storage's expiry task."""
        if self._pool is not None:
            try:
                await self._pool.aclose()
            except (redis_errors.RedisError, OSError) as exc:  # a dead connection must not fail a shutdown
                log.debug("error closing the rate limits' Redis connections: %s", exc)
        if isinstance(self._storage, MemoryStorage) and self._storage.timer is not None:
            self._storage.timer.cancel()

    async def _call(self, send: Callable[[], Awaitable[T]]) -> T:
        try:
            async with asyncio.timeout(self._operation_timeout_s):
                return await send()
        except _STORAGE_ERRORS as exc:
            raise StoreUnavailable(f"rate limits unavailable: {exc or type(exc).__name__}") from exc


def describe(items: Sequence[RateLimitItem]) -> str:
    """ "10 per 1 minute, 60 per 1 hour": for logs and messages."""
    return ", ".join(str(item) for item in items)
