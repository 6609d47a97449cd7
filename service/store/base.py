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
from typing import Any, Literal, Protocol, runtime_checkable

StoreKind = Literal["redis", "memory"]


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
