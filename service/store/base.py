"""The storage protocol the pipeline and the API code against, and its one error.

    Exception
     └── StoreUnavailable   the store could not answer (Redis down, timed out, refused the command);
                            callers carry on uncached. Implementations never let a driver's own
                            exception (redis.exceptions.*, OSError) escape instead.

Programming errors are not unavailability and propagate as themselves: a TTL below one second
(ValueError) or a verdict that is not JSON-serializable (TypeError).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

StoreKind = Literal["redis", "memory"]


class LogEntry(NamedTuple):
    """One decision-log entry: its stream id ("<ms>-<seq>") and its fields."""

    id: str
    fields: dict[str, str]


class StoreUnavailable(Exception):
    """The store could not answer; the request goes on without the cache."""


@runtime_checkable
class Store(Protocol):
    """Where verdicts are cached. Keys come from `service.store.keys.Keys`, never built by callers."""

    @property
    def kind(self) -> StoreKind:
        """Which implementation this is: redis or memory (for /readyz and the startup log)."""
        ...

    async def get_verdict(self, key: str) -> dict[str, Any] | None:
        """The cached verdict, or None on a miss (expired, never set, or unreadable).

        Raises StoreUnavailable when the store cannot be reached.
        """
        ...

    async def set_verdict(self, key: str, verdict: dict[str, Any], ttl_s: int) -> None:
        """Cache `verdict` (JSON-serializable) for `ttl_s` whole seconds (>= 1).

        Raises StoreUnavailable when the store cannot be reached.
        """
        ...

    # The decision log, counters, review queue and comment statuses (service.review.log uses
    # these). Every method raises StoreUnavailable when the store cannot be reached.

    async def log_append(self, stream: str, fields: dict[str, str], *, max_len: int, min_id_ms: int) -> str:
        """Append an entry to a capped stream and return its id ("<ms>-<seq>"). Entries older than
        `min_id_ms` and beyond the newest `max_len` are trimmed (approximately, as Redis' `~` does)."""
        ...

    async def log_range(self, stream: str, *, max_id: str, min_id: str, count: int) -> list[LogEntry]:
        """Up to `count` entries, newest first, between `max_id` and `min_id` in XREVRANGE notation:
        "+" / "-" for the ends, "<ms>" or "<ms>-<seq>" inclusive, "(<ms>-<seq>" exclusive."""
        ...

    async def log_length(self, stream: str) -> int:
        """Entries in the stream (0 when there is none)."""
        ...

    async def counters_incr(self, keys: Sequence[str], ttl_s: int) -> None:
        """Add one to each counter; each expires `ttl_s` after it was created."""
        ...

    async def counters_get(self, keys: Sequence[str]) -> list[int]:
        """Each counter's value, 0 for one that is missing."""
        ...

    async def queue_add(self, queue: str, member: str, score: float) -> None:
        """Put `member` in the sorted set `queue` (re-adding moves it to `score`)."""
        ...

    async def queue_remove(self, queue: str, member: str) -> bool:
        """Take `member` out; True when it was there. Exactly one of concurrent callers gets True."""
        ...

    async def queue_page(self, queue: str, offset: int, count: int) -> list[str]:
        """Members in score order (oldest first), `count` of them from `offset`."""
        ...

    async def queue_size(self, queue: str) -> int: ...

    async def hash_set(self, key: str, fields: dict[str, str], ttl_s: int | None) -> None:
        """Set fields of a hash (others are kept); `ttl_s` None leaves it without an expiry."""
        ...

    async def hash_get(self, key: str) -> dict[str, str] | None:
        """All fields of a hash, or None when it does not exist (or expired)."""
        ...

    async def hashes_get(self, keys: Sequence[str]) -> list[dict[str, str] | None]:
        """`hash_get` for many keys in one round trip."""
        ...

    async def ping(self) -> bool:
        """Whether the store answers right now (for /readyz). Never raises."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...

    def describe(self) -> str:
        """For logs and /readyz: the Redis URL with any password masked, or "memory"."""
        ...


def check_ttl(ttl_s: int) -> int:
    """Refuse TTLs Redis would refuse (`SET … EX 0` is an error), identically in every store."""
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
        raise ValueError(f"ttl_s must be a whole number of seconds >= 1, got {ttl_s!r}")
    return ttl_s


def dump_verdict(verdict: dict[str, Any]) -> str:
    """The stored form of a verdict: compact JSON. Both stores store this, so both accept the same values."""
    if not isinstance(verdict, dict):
        raise TypeError(f"a verdict is a dict, got {type(verdict).__name__}")
    return json.dumps(verdict, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def load_verdict(raw: str | bytes) -> dict[str, Any] | None:
    """Parse a stored verdict; None when it is not a JSON object (the caller counts it as a miss)."""
    try:
        # Decoded explicitly: json.loads would guess UTF-16 or UTF-32 from some byte patterns.
        value = json.loads(raw.decode("utf-8") if isinstance(raw, bytes) else raw)
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
        return None
    return value if isinstance(value, dict) else None


_STREAM_ID = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_stream_id(value: str, *, upper: bool) -> tuple[int, int]:
    """A stream id as (ms, seq). A bare "<ms>" means its first id as a lower bound and its last as an upper
    one, as XRANGE reads it. Raises ValueError for anything else (callers validate user input with it)."""
    match = _STREAM_ID.match(value)
    if not match:
        raise ValueError(f"not a stream id: {value!r}")
    ms = int(match.group(1))
    if match.group(2) is not None:
        return ms, int(match.group(2))
    return ms, (2**64 - 1 if upper else 0)
