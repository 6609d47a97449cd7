"""The webhook outbox: deliveries waiting to be POSTed, the ones in flight, and the dead letters.

    Outbox          the protocol the delivery worker (service/review/outbox.py) and the dashboard use
    RedisOutbox     a Stream read through a consumer group, so that several replicas share the work and a
                    delivery left pending by a process that died is claimed by another (XAUTOCLAIM)
    MemoryOutbox    the same behaviour in process memory, for running without Redis (lost on restart)

An entry's life: `enqueue` adds it (refused with OutboxFull at `max_entries` waiting or in flight);
`read_new` hands it to one consumer, after which it is pending, owned by that consumer; each attempt starts
with `begin_attempt`, which counts it (the count survives a restart) and resets its idle time, as `touch`
does; an entry idle for `min_idle_ms` (its consumer died) is taken over by `claim`; `ack` ends it delivered;
`dead_letter` moves it, with its last error, to the dead letters (capped at `dead_max`, the oldest dropped),
from where `retry_dead` puts it back in the outbox as a new entry with a fresh count.

Unacknowledged entries stay pending whatever happens to the process: delivery is at least once, and the
payload's delivery_id (the same on every attempt, and on a retried dead letter) is how a receiver drops a
repeat. Every failure of Redis is StoreUnavailable, as in the other stores; key names come from keys.py.
"""

from __future__ import annotations

import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

import redis.asyncio as aioredis
import redis.exceptions as redis_errors

from service.store.base import LogCursor, StoreUnavailable
from service.store.keys import DEFAULT_PREFIX, Keys
from service.store.redis import fail_fast_client, mask_url

log = logging.getLogger(__name__)

GROUP = "deliverers"
"""The consumer group every delivery worker of a deployment reads the outbox through."""

_ERROR_MAX_CHARS = 500  # a dead letter's error: what the receiver said, not its whole error page


class OutboxFull(Exception):
    """The outbox holds `max_entries` deliveries already (the receiver has been down a long time)."""


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One delivery in the outbox: the exact bytes to POST (as text) and the id the receiver dedupes on."""

    entry_id: str
    body: str
    delivery_id: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that failed for good: what was sent, how often, the last error and when it gave up."""

    dead_id: str
    body: str
    delivery_id: str
    attempts: int
    error: str
    failed_ms: int

    @property
    def failed_at(self) -> datetime:
        return datetime.fromtimestamp(self.failed_ms / 1000, tz=UTC)

    @property
    def payload(self) -> dict[str, Any]:
        """The body as JSON ({} when it is not a JSON object, which the service never writes)."""
        try:
            value = json.loads(self.body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


class Outbox(Protocol):
    max_entries: int
    dead_max: int

    async def enqueue(self, body: str, delivery_id: str) -> str:
        """Add a delivery; returns its entry id. Raises OutboxFull."""

    async def read_new(self, consumer: str, count: int) -> list[OutboxEntry]:
        """Up to `count` entries no consumer has had yet, now pending with `consumer`."""

    async def claim(self, consumer: str, min_idle_ms: int, count: int) -> list[OutboxEntry]:
        """Up to `count` pending entries idle for `min_idle_ms` or more, now `consumer`'s."""

    async def begin_attempt(self, entry_id: str, consumer: str) -> int | None:
        """Count one more attempt at `entry_id` (returned: 1 for the first) and reset its idle time; None
        when the entry is no longer pending (delivered or dead-lettered meanwhile)."""

    async def touch(self, entry_id: str, consumer: str) -> bool:
        """Reset the entry's idle time (so that nobody claims it during a long wait); False when it is gone."""

    async def ack(self, entry_id: str) -> None:
        """The entry was delivered: remove it and its count."""

    async def dead_letter(self, entry: OutboxEntry, attempts: int, error: str) -> str:
        """Move the entry to the dead letters with its last error; returns the dead letter's id."""

    async def dead_page(self, before: LogCursor | None, count: int) -> list[DeadLetter]:
        """Dead letters newest first, older than `before` (None: from the newest)."""

    async def retry_dead(self, dead_id: str) -> str | None:
        """Put a dead letter back in the outbox as a new entry (returned); None when there is no such dead
        letter (retried already). Raises OutboxFull."""

    async def depth(self) -> int:
        """Deliveries waiting or in flight."""

    async def dead_count(self) -> int:
        """Dead letters kept."""

    async def prepare(self, consumer: str, forget_idle_ms: int) -> None:
        """Ready the outbox for a worker named `consumer`; forget other consumers idle `forget_idle_ms` with
        nothing pending (each process start names a new one)."""

    async def aclose(self) -> None: ...

    def describe(self) -> str: ...


def _dead_fields(entry: OutboxEntry, attempts: int, error: str, now_ms: int) -> dict[str, str]:
    return {
        "body": entry.body,
        "delivery_id": entry.delivery_id,
        "attempts": str(attempts),
        "error": error[:_ERROR_MAX_CHARS],
        "failed_ms": str(now_ms),
        "entry_id": entry.entry_id,
    }


def _dead_letter(dead_id: str, fields: dict[str, str]) -> DeadLetter:
    def number(name: str) -> int:
        try:
            return int(fields.get(name, "0"))
        except ValueError:
            return 0

    return DeadLetter(
        dead_id=dead_id,
        body=fields.get("body", ""),
        delivery_id=fields.get("delivery_id", ""),
        attempts=number("attempts"),
        error=fields.get("error", ""),
        failed_ms=number("failed_ms"),
    )


def _check_caps(max_entries: int, dead_max: int) -> None:
    if max_entries < 1 or dead_max < 1:
        raise ValueError("the outbox and its dead letters need caps of at least 1")


# -- Redis ---------------------------------------------------------------------------------------------------

# Each script is one step on the server.

# KEYS[1] the outbox. ARGV: the cap, the body, the delivery id. Returns the new entry's id, or false when full.
_ENQUEUE = """
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
return redis.call('XADD', KEYS[1], '*', 'body', ARGV[2], 'delivery_id', ARGV[3])
"""

# KEYS[1] the outbox, KEYS[2] the attempts hash. ARGV: the group, the consumer, the entry id.
# Returns the attempt's number, or 0 when the entry is no longer pending.
_BEGIN_ATTEMPT = """
local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
if #claimed == 0 then return 0 end
return redis.call('HINCRBY', KEYS[2], ARGV[3], 1)
"""

# KEYS[1] the outbox, KEYS[2] the attempts hash, KEYS[3] the dead letters. ARGV: the group, the entry id,
# the dead letters' cap, then the dead letter's field, value, field, value... Returns the dead letter's id.
_DEAD_LETTER = """
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[2], ARGV[2])
return redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[3], '*', unpack(ARGV, 4))
"""

# KEYS[1] the outbox, KEYS[2] the dead letters. ARGV: the dead letter's id, the outbox's cap.
# Returns the new entry's id; false when there is no such dead letter; -1 when the outbox is full.
_RETRY_DEAD = """
local found = redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1])
if #found == 0 then return false end
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[2]) then return -1 end
local fields = found[1][2]
local body, delivery = '', ''
for i = 1, #fields, 2 do
  if fields[i] == 'body' then body = fields[i + 1] elseif fields[i] == 'delivery_id' then delivery = fields[i + 1] end
end
local id = redis.call('XADD', KEYS[1], '*', 'body', body, 'delivery_id', delivery)
redis.call('XDEL', KEYS[2], ARGV[1])
return id
"""


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _entries(raw: Any) -> list[OutboxEntry]:
    """Stream entries as XREADGROUP / XAUTOCLAIM / XRANGE give them ([(id, {field: value})]); an entry deleted
    meanwhile comes as (id, None) and is skipped."""
    found = []
    for entry_id, fields in raw or []:
        if not fields:
            continue
        decoded = {_text(k): _text(v) for k, v in fields.items()}
        found.append(OutboxEntry(_text(entry_id), decoded.get("body", ""), decoded.get("delivery_id", "")))
    return found


class RedisOutbox:
    kind: Literal["redis"] = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        description: str,
        prefix: str = DEFAULT_PREFIX,
        max_entries: int = 100_000,
        dead_max: int = 10_000,
    ) -> None:
        """Prefer `from_url`."""
        _check_caps(max_entries, dead_max)
        self._client = client
        self._keys = Keys(prefix)
        self._description = description
        self.max_entries, self.dead_max = max_entries, dead_max
        self._enqueue = client.register_script(_ENQUEUE)
        self._begin_attempt = client.register_script(_BEGIN_ATTEMPT)
        self._dead_letter = client.register_script(_DEAD_LETTER)
        self._retry_dead = client.register_script(_RETRY_DEAD)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        max_entries: int = 100_000,
        dead_max: int = 10_000,
        socket_timeout_s: float = 2.0,
    ) -> RedisOutbox:
        """An outbox on `url` under `prefix`, on a connection of its own: the worker's reads never wait
        behind the requests' cache traffic, nor those behind them. Connects lazily."""
        return cls(
            fail_fast_client(url, socket_timeout_s),
            description=mask_url(url),
            prefix=prefix,
            max_entries=max_entries,
            dead_max=dead_max,
        )

    async def enqueue(self, body: str, delivery_id: str) -> str:
        outbox = self._keys.webhook_outbox()
        entry_id = await self._run(self._enqueue(keys=[outbox], args=[self.max_entries, body, delivery_id]))
        if entry_id is None:
            raise OutboxFull(f"the webhook outbox holds {self.max_entries} deliveries (WEBHOOK_OUTBOX_MAX)")
        return _text(entry_id)

    async def read_new(self, consumer: str, count: int) -> list[OutboxEntry]:
        outbox = self._keys.webhook_outbox()
        try:
            raw: Any = await self._client.xreadgroup(GROUP, consumer, {outbox: ">"}, count=count)
        except redis_errors.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise StoreUnavailable(f"XREADGROUP: {exc}") from exc
            await self._create_group()  # the stream was deleted (by hand, or a test): start again
            return []
        except (redis_errors.RedisError, OSError) as exc:
            raise StoreUnavailable(f"XREADGROUP: {exc}") from exc
        return [entry for _, entries in raw or [] for entry in _entries(entries)]

    async def claim(self, consumer: str, min_idle_ms: int, count: int) -> list[OutboxEntry]:
        outbox = self._keys.webhook_outbox()
        try:
            raw = await self._client.xautoclaim(outbox, GROUP, consumer, min_idle_ms, "0-0", count=count)
        except redis_errors.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise StoreUnavailable(f"XAUTOCLAIM: {exc}") from exc
            await self._create_group()
            return []
        except (redis_errors.RedisError, OSError) as exc:
            raise StoreUnavailable(f"XAUTOCLAIM: {exc}") from exc
        # [next cursor, entries, ids of entries deleted meanwhile (dropped from the pending list by Redis)]
        return _entries(raw[1])

    async def begin_attempt(self, entry_id: str, consumer: str) -> int | None:
        keys = [self._keys.webhook_outbox(), self._keys.webhook_attempts()]
        number = int(await self._run(self._begin_attempt(keys=keys, args=[GROUP, consumer, entry_id])))
        return number or None

    async def touch(self, entry_id: str, consumer: str) -> bool:
        outbox = self._keys.webhook_outbox()
        claimed = await self._run(self._client.xclaim(outbox, GROUP, consumer, 0, [entry_id], justid=True))
        return bool(claimed)

    async def ack(self, entry_id: str) -> None:
        outbox = self._keys.webhook_outbox()

        async def send() -> Any:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.xack(outbox, GROUP, entry_id)
                pipe.xdel(outbox, entry_id)
                pipe.hdel(self._keys.webhook_attempts(), entry_id)
                return await pipe.execute()

        await self._run(send())

    async def dead_letter(self, entry: OutboxEntry, attempts: int, error: str) -> str:
        keys = [self._keys.webhook_outbox(), self._keys.webhook_attempts(), self._keys.webhook_dead()]
        fields = _dead_fields(entry, attempts, error, int(time.time() * 1000))
        args: list[str | int] = [GROUP, entry.entry_id, self.dead_max]
        args += [part for item in fields.items() for part in item]
        return _text(await self._run(self._dead_letter(keys=keys, args=args)))

    async def dead_page(self, before: LogCursor | None, count: int) -> list[DeadLetter]:
        dead = self._keys.webhook_dead()
        newest = "+" if before is None else f"({before}"
        raw = await self._run(self._client.xrevrange(dead, newest, "-", count=count))
        return [_dead_letter(_text(i), {_text(k): _text(v) for k, v in fields.items()}) for i, fields in raw]

    async def retry_dead(self, dead_id: str) -> str | None:
        LogCursor.parse(dead_id)  # a ValueError for anything that is not an id, before Redis refuses it
        keys = [self._keys.webhook_outbox(), self._keys.webhook_dead()]
        result = await self._run(self._retry_dead(keys=keys, args=[dead_id, self.max_entries]))
        if result is None:
            return None
        if result == -1:
            raise OutboxFull(f"the webhook outbox holds {self.max_entries} deliveries (WEBHOOK_OUTBOX_MAX)")
        return _text(result)

    async def depth(self) -> int:
        return int(await self._run(self._client.xlen(self._keys.webhook_outbox())))

    async def dead_count(self) -> int:
        return int(await self._run(self._client.xlen(self._keys.webhook_dead())))

    async def prepare(self, consumer: str, forget_idle_ms: int) -> None:
        await self._create_group()
        outbox = self._keys.webhook_outbox()
        consumers = await self._run(self._client.xinfo_consumers(outbox, GROUP))
        for found in consumers:
            info = {_text(k): v for k, v in found.items()}
            name = _text(info.get("name", b""))
            if (
                name != consumer
                and int(info.get("pending", 1)) == 0
                and int(info.get("idle", 0)) > forget_idle_ms
            ):
                await self._run(self._client.xgroup_delconsumer(outbox, GROUP, name))

    async def _create_group(self) -> None:
        # From the stream's start ("0"), so deliveries enqueued before any worker ever ran are delivered.
        try:
            await self._client.xgroup_create(self._keys.webhook_outbox(), GROUP, id="0", mkstream=True)
        except redis_errors.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise StoreUnavailable(f"XGROUP CREATE: {exc}") from exc
        except (redis_errors.RedisError, OSError) as exc:
            raise StoreUnavailable(f"XGROUP CREATE: {exc}") from exc

    async def _run(self, call: Any) -> Any:
        try:
            return await call
        except (redis_errors.RedisError, OSError) as exc:
            raise StoreUnavailable(f"webhook outbox: {type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        await self._client.aclose()

    def describe(self) -> str:
        return f"Redis at {self._description} ({self._keys.webhook_outbox()})"


# -- process memory ------------------------------------------------------------------------------------------


@dataclass
class _Pending:
    consumer: str
    touched: float  # monotonic seconds


class MemoryOutbox:
    """The outbox in process memory: the Redis outbox's behaviour, caps included, without surviving a
    restart. One process's workers share it; nothing else can."""

    kind: Literal["memory"] = "memory"

    def __init__(
        self,
        *,
        max_entries: int = 100_000,
        dead_max: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        _check_caps(max_entries, dead_max)
        self.max_entries, self.dead_max = max_entries, dead_max
        self._clock, self._wall_ms = clock, wall_ms
        self._entries: dict[str, OutboxEntry] = {}
        self._unread: deque[str] = deque()
        self._pending: OrderedDict[str, _Pending] = OrderedDict()
        self._attempts: dict[str, int] = {}
        self._dead: OrderedDict[str, DeadLetter] = OrderedDict()
        self._last = LogCursor(0, 0)

    def _next_id(self) -> str:
        ms = self._wall_ms()
        self._last = LogCursor(ms, 0) if ms > self._last.ms else LogCursor(self._last.ms, self._last.seq + 1)
        return str(self._last)

    async def enqueue(self, body: str, delivery_id: str) -> str:
        if len(self._entries) >= self.max_entries:
            raise OutboxFull(f"the webhook outbox holds {self.max_entries} deliveries (WEBHOOK_OUTBOX_MAX)")
        entry = OutboxEntry(self._next_id(), body, delivery_id)
        self._entries[entry.entry_id] = entry
        self._unread.append(entry.entry_id)
        return entry.entry_id

    async def read_new(self, consumer: str, count: int) -> list[OutboxEntry]:
        found: list[OutboxEntry] = []
        while self._unread and len(found) < count:
            entry_id = self._unread.popleft()
            if entry_id in self._entries:
                self._pending[entry_id] = _Pending(consumer, self._clock())
                found.append(self._entries[entry_id])
        return found

    async def claim(self, consumer: str, min_idle_ms: int, count: int) -> list[OutboxEntry]:
        now, found = self._clock(), list[OutboxEntry]()
        for entry_id, pending in list(self._pending.items()):
            if len(found) >= count:
                break
            if entry_id not in self._entries:
                del self._pending[entry_id]
            elif (now - pending.touched) * 1000 >= min_idle_ms:
                self._pending[entry_id] = _Pending(consumer, now)
                found.append(self._entries[entry_id])
        return found

    async def begin_attempt(self, entry_id: str, consumer: str) -> int | None:
        if not await self.touch(entry_id, consumer):
            return None
        self._attempts[entry_id] = self._attempts.get(entry_id, 0) + 1
        return self._attempts[entry_id]

    async def touch(self, entry_id: str, consumer: str) -> bool:
        if entry_id not in self._pending or entry_id not in self._entries:
            return False
        self._pending[entry_id] = _Pending(consumer, self._clock())
        return True

    def _remove(self, entry_id: str) -> None:
        self._entries.pop(entry_id, None)
        self._pending.pop(entry_id, None)
        self._attempts.pop(entry_id, None)

    async def ack(self, entry_id: str) -> None:
        self._remove(entry_id)

    async def dead_letter(self, entry: OutboxEntry, attempts: int, error: str) -> str:
        self._remove(entry.entry_id)
        dead_id = self._next_id()
        self._dead[dead_id] = _dead_letter(dead_id, _dead_fields(entry, attempts, error, self._wall_ms()))
        while len(self._dead) > self.dead_max:
            self._dead.popitem(last=False)
        return dead_id

    async def dead_page(self, before: LogCursor | None, count: int) -> list[DeadLetter]:
        found: list[DeadLetter] = []
        for dead_id in reversed(self._dead):
            if len(found) >= count:
                break
            if before is None or LogCursor.parse(dead_id) < before:
                found.append(self._dead[dead_id])
        return found

    async def retry_dead(self, dead_id: str) -> str | None:
        LogCursor.parse(dead_id)
        dead = self._dead.get(dead_id)
        if dead is None:
            return None
        entry_id = await self.enqueue(dead.body, dead.delivery_id)  # raises OutboxFull, keeping the letter
        del self._dead[dead_id]
        return entry_id

    async def depth(self) -> int:
        return len(self._entries)

    async def dead_count(self) -> int:
        return len(self._dead)

    async def prepare(self, consumer: str, forget_idle_ms: int) -> None:
        pass  # consumers are not kept apart from their pending entries

    async def aclose(self) -> None:
        pass

    def describe(self) -> str:
        return f"process memory (at most {self.max_entries} deliveries, lost on restart)"
