"""An in-process verdict store, for runs with no Redis (`REDIS_URL` unset) and for tests.

It behaves like the Redis store where callers can tell: values go through the same JSON encoding (so a
caller mutating a returned verdict never changes the cache, and a value Redis would refuse is refused
here too), and TTLs are honoured. It is per process: workers don't share it and a restart empties it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal

from service.store.base import check_ttl, dump_verdict, load_verdict


class MemoryStore:
    kind: Literal["memory"] = "memory"

    def __init__(self, max_entries: int = 100_000, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._clock = clock
        # key -> (expires_at, stored JSON); insertion order is age order, so the first entry is the oldest.
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()

    def __len__(self) -> int:
        """Entries held, expired ones not yet noticed included."""
        return len(self._entries)

    async def get_verdict(self, key: str) -> dict[str, Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires_at, raw = entry
        if self._clock() >= expires_at:
            del self._entries[key]
            return None
        return load_verdict(raw)

    async def set_verdict(self, key: str, verdict: dict[str, Any], ttl_s: int) -> None:
        check_ttl(ttl_s)
        raw = dump_verdict(verdict)
        # Re-setting a key makes it the newest, as a fresh SET would in Redis.
        self._entries.pop(key, None)
        self._entries[key] = (self._clock() + ttl_s, raw)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._entries.clear()

    def describe(self) -> str:
        return "memory"

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries}, entries={len(self._entries)})"
