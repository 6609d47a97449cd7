"""An in-process verdict store, for runs with no Redis (`REDIS_URL` unset) and for tests.

It behaves like the Redis store where callers can tell: values go through the same JSON encoding (so a
caller mutating a returned verdict never changes the cache, and a value Redis would refuse is refused
here too), and TTLs are honoured. It is per process: workers don't share it and a restart empties it.
"""

from __future__ import annotations

import bisect
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, Literal

from service.store.base import LogEntry, check_ttl, dump_verdict, load_verdict, parse_stream_id


class MemoryStore:
    kind: Literal["memory"] = "memory"

    def __init__(
        self,
        max_entries: int = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._clock = clock
        self._wall_clock = wall_clock  # stream ids are wall-clock milliseconds, as Redis makes them
        # stream -> entries oldest first, as ((ms, seq), fields)
        self._streams: dict[str, list[tuple[tuple[int, int], dict[str, str]]]] = {}
        self._counters: dict[str, tuple[float, int]] = {}  # key -> (expires_at, value)
        self._queues: dict[str, dict[str, float]] = {}
        self._hashes: OrderedDict[str, tuple[float | None, dict[str, str]]] = OrderedDict()
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

    async def log_append(self, stream: str, fields: dict[str, str], *, max_len: int, min_id_ms: int) -> str:
        entries = self._streams.setdefault(stream, [])
        ms = int(self._wall_clock() * 1000)
        seq = 0
        if entries:
            last_ms, last_seq = entries[-1][0]
            if ms <= last_ms:  # ids only grow, even when the clock steps back
                ms, seq = last_ms, last_seq + 1
        entries.append(((ms, seq), {str(k): str(v) for k, v in fields.items()}))
        cut = bisect.bisect_left(entries, (min_id_ms, 0), key=lambda e: e[0])
        cut = max(cut, len(entries) - max_len)
        if cut > 0:
            del entries[:cut]
        return f"{ms}-{seq}"

    async def log_range(self, stream: str, *, max_id: str, min_id: str, count: int) -> list[LogEntry]:
        entries = self._streams.get(stream, [])
        hi_key = lambda e: e[0]  # noqa: E731
        if max_id == "+":
            hi = len(entries)
        elif max_id.startswith("("):
            hi = bisect.bisect_left(entries, parse_stream_id(max_id[1:], upper=True), key=hi_key)
        else:
            hi = bisect.bisect_right(entries, parse_stream_id(max_id, upper=True), key=hi_key)
        if min_id == "-":
            lo = 0
        elif min_id.startswith("("):
            lo = bisect.bisect_right(entries, parse_stream_id(min_id[1:], upper=False), key=hi_key)
        else:
            lo = bisect.bisect_left(entries, parse_stream_id(min_id, upper=False), key=hi_key)
        picked = entries[max(lo, hi - count) : hi] if count > 0 else []
        return [LogEntry(f"{ms}-{seq}", dict(fields)) for (ms, seq), fields in reversed(picked)]

    async def log_length(self, stream: str) -> int:
        return len(self._streams.get(stream, []))

    async def counters_incr(self, keys: Sequence[str], ttl_s: int) -> None:
        check_ttl(ttl_s)
        now = self._clock()
        for key in keys:
            expires_at, value = self._counters.get(key, (0.0, 0))
            if now >= expires_at:
                expires_at, value = now + ttl_s, 0
            self._counters[key] = (expires_at, value + 1)
        if len(self._counters) > 4 * self.max_entries:
            self._counters = {k: v for k, v in self._counters.items() if v[0] > now}

    async def counters_get(self, keys: Sequence[str]) -> list[int]:
        now = self._clock()
        out = []
        for key in keys:
            expires_at, value = self._counters.get(key, (0.0, 0))
            out.append(value if now < expires_at else 0)
        return out

    async def queue_add(self, queue: str, member: str, score: float) -> None:
        self._queues.setdefault(queue, {})[member] = float(score)

    async def queue_remove(self, queue: str, member: str) -> bool:
        return self._queues.get(queue, {}).pop(member, None) is not None

    async def queue_page(self, queue: str, offset: int, count: int) -> list[str]:
        members = sorted(self._queues.get(queue, {}).items(), key=lambda item: (item[1], item[0]))
        return [m for m, _ in members[offset : offset + count]] if count > 0 else []

    async def queue_size(self, queue: str) -> int:
        return len(self._queues.get(queue, {}))

    async def hash_set(self, key: str, fields: dict[str, str], ttl_s: int | None) -> None:
        if ttl_s is not None:
            check_ttl(ttl_s)
        current = await self.hash_get(key) or {}
        current.update({str(k): str(v) for k, v in fields.items()})
        self._hashes.pop(key, None)
        self._hashes[key] = (None if ttl_s is None else self._clock() + ttl_s, current)
        while len(self._hashes) > self.max_entries:
            self._hashes.popitem(last=False)

    async def hash_get(self, key: str) -> dict[str, str] | None:
        entry = self._hashes.get(key)
        if entry is None:
            return None
        expires_at, fields = entry
        if expires_at is not None and self._clock() >= expires_at:
            del self._hashes[key]
            return None
        return dict(fields)

    async def hashes_get(self, keys: Sequence[str]) -> list[dict[str, str] | None]:
        return [await self.hash_get(key) for key in keys]

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._entries.clear()

    def describe(self) -> str:
        return "memory"

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries}, entries={len(self._entries)})"
