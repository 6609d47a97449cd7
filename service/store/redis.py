"""The store in Redis, through redis-py's asyncio client: the verdict cache and the decision log's data, every
key named by `service.store.keys` under the deployment's prefix (the layout is drawn there).

A cache must never be the reason a request fails or stalls, so:
- connect and socket timeouts are short (default 0.5 s) and redis-py's own retries are off — a retry
  would double the wait on a Redis that is gone, and the caller can always score uncached instead;
- after a connection failure the store skips Redis for a backoff (1 s, doubling to 10 s), raising
  StoreUnavailable at once, so a dead Redis costs each request nothing and Redis isn't hammered while it
  comes back; the first call after the backoff is the probe, and a success (or a successful `ping()`,
  which /readyz calls and which ignores the backoff) puts the store back in service by itself;
- every redis-py exception becomes StoreUnavailable; a value that is not a JSON object is a miss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import redis.asyncio as aioredis
import redis.exceptions as redis_errors
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.typing import EncodableT, FieldT

from service.store.base import (
    ApiKeyRecord,
    Count,
    CounterName,
    DecisionResult,
    DecisionWrite,
    LogCursor,
    LogEntry,
    RecordResult,
    RecordWrite,
    Spill,
    StoreUnavailable,
    check_api_key_id,
    check_comment_id,
    check_fields,
    check_session_key,
    check_ttl,
    dump_verdict,
    load_verdict,
    log_bounds,
)
from service.store.keys import DEFAULT_PREFIX, Keys

log = logging.getLogger(__name__)

T = TypeVar("T")

# Errors that mean "Redis is not reachable right now" and start the backoff. Other RedisErrors (Redis
# answered but refused: OOM, READONLY, WRONGTYPE…) still make the call fail with StoreUnavailable, but the
# next call may well succeed, so they don't stop the traffic.
_CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    TimeoutError,  # asyncio.timeout's deadline (asyncio.TimeoutError is TimeoutError since 3.11)
    OSError,
)


def _text(value: Any) -> str:
    # The client returns bytes (see from_url); text that is not UTF-8 is shown, not fatal.
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _fields(value: Any) -> dict[str, str] | None:
    """A hash as HGETALL returns it, decoded; None for a missing one (HGETALL answers it as empty)."""
    return {_text(k): _text(v) for k, v in value.items()} or None


def _flat(fields: Mapping[Any, Any]) -> list[EncodableT]:
    """field, value, field, value... as a script takes them."""
    return [part for item in fields.items() for part in item]


def mask_url(url: str) -> str:
    """The URL with its password (in the userinfo or a `password=` option) replaced by ***."""
    # Regexes rather than urlsplit/urlunsplit, which turn unix:///path into unix:/path.
    # The userinfo ends at the netloc's last "@"; a password may itself contain "@" or ":".
    masked = re.sub(r"^([A-Za-z][A-Za-z0-9+.-]*://[^/?#@:]*:)[^/?#]*@", r"\1***@", url)
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", masked)


# Each script is one step on the server: what it tests, nothing else can change before it writes.

# KEYS[1] the status hash. ARGV[1] the TTL in seconds, 0 for none; ARGV[2..] field, value, field, value...
# Returns nothing when it created the status, else the status found (HGETALL's flat list).
_CLAIM_STATUS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('HGETALL', KEYS[1])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return false
"""

# KEYS[1] the status hash. ARGV[1] the TTL in seconds, 0 for none; ARGV[2] how many statuses allow the
# update, then those statuses, then field, value, field, value... Returns 1 when it set the fields, else 0.
_SET_STATUS_IF = """
local allowed = tonumber(ARGV[2])
local current = redis.call('HGET', KEYS[1], 'status')
local ok = false
for i = 3, 2 + allowed do
  if current == ARGV[i] then ok = true end
end
if not ok then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3 + allowed))
if tonumber(ARGV[1]) > 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) else redis.call('PERSIST', KEYS[1]) end
return 1
"""

# KEYS[1] the queue, KEYS[2] its overflow (sorted sets: id -> ms entered), KEYS[3] the lost counter.
# ARGV: the id, the ms it entered, the queue's cap (-1: none), the overflow's cap.
# Returns {how many moved to the overflow, the ids that fell out of it...}.
_ENQUEUE_REVIEW = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local limit = tonumber(ARGV[3])
if limit < 0 then return {0} end
local moved = 0
local excess = redis.call('ZCARD', KEYS[1]) - limit
if excess > 0 then
  local out = redis.call('ZPOPMIN', KEYS[1], excess)
  for i = 1, #out, 2 do redis.call('ZADD', KEYS[2], out[i + 1], out[i]) end
  moved = #out / 2
end
local result = {moved}
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local out = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #out, 2 do result[#result + 1] = out[i] end
  redis.call('INCRBY', KEYS[3], #out / 2)
end
return result
"""


# Type checks every whole-record script makes before its first write: a key of another type (refused by the
# first command on it) must not leave the record half-written, as Lua scripts are not rolled back on error.
_CHECK_TYPES = """
local function check_type(key, wanted)
  local found = redis.call('TYPE', key)['ok']
  if found ~= 'none' and found ~= wanted then
    return redis.error_reply('WRONGTYPE ' .. key .. ' holds a ' .. found .. ', not a ' .. wanted)
  end
end
local function bump(key, by, ttl)
  redis.call('INCRBY', key, by)
  redis.call('EXPIRE', key, ttl, 'NX')
end
"""

# One comment's record. KEYS: 1 the status, 2 the log, 3 the queue, 4 its overflow, 5 the lost counter, then
# the counters (`counts`, then `overflowed`, then `lost`). ARGV[1] a JSON header (see _record_args), ARGV[2]
# the comment id, then the status's fields (field, value...), the log entry's, and the entry's JSON.
# Returns {0, the status found (HGETALL's list)} when nothing was written, else {1, log id, moved, lost...}.
_WRITE_RECORD = (
    _CHECK_TYPES
    + """
local h = cjson.decode(ARGV[1])
local id = ARGV[2]
if h.claim then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('HGETALL', KEYS[1])} end
else
  local current = redis.call('HGET', KEYS[1], 'status')
  local allowed = false
  for _, s in ipairs(h.allowed) do if current == s then allowed = true end end
  if not allowed then return {0, {}} end
end
for i, wanted in ipairs({'hash', 'stream', 'zset', 'zset', 'string'}) do
  local err = check_type(KEYS[i], wanted)
  if err then return err end
end
local pos = 3 + 2 * h.nstatus
local log_id = ''
-- The log entry first: of the writes, the one a full or odd stream could refuse.
if h.nentry > 0 then
  log_id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', h.maxlen, '*', unpack(ARGV, pos, pos + 2 * h.nentry - 1))
  redis.call('XTRIM', KEYS[2], 'MINID', '~', h.minid)
  pos = pos + 2 * h.nentry
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + 2 * h.nstatus))
if log_id ~= '' then
  redis.call('HSET', KEYS[1], 'log_id', log_id)
  if h.entry then redis.call('HSET', KEYS[1], 'entry', ARGV[pos]) end
end
if h.ttl > 0 then redis.call('EXPIRE', KEYS[1], h.ttl) else redis.call('PERSIST', KEYS[1]) end
if h.unqueue then
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
local k = 6
for _, ttl in ipairs(h.counts) do bump(KEYS[k], 1, ttl); k = k + 1 end
local result = {1, log_id, 0}
local q = h.queue
if q then
  redis.call('ZREM', KEYS[4], id)
  redis.call('ZADD', KEYS[3], q.ms, id)
  if q.limit >= 0 then
    local excess = redis.call('ZCARD', KEYS[3]) - q.limit
    if excess > 0 then
      local out = redis.call('ZPOPMIN', KEYS[3], excess)
      for i = 1, #out, 2 do redis.call('ZADD', KEYS[4], out[i + 1], out[i]) end
      result[3] = #out / 2
    end
    local over = redis.call('ZCARD', KEYS[4]) - q.over
    if over > 0 then
      local out = redis.call('ZPOPMIN', KEYS[4], over)
      for i = 1, #out, 2 do
        result[#result + 1] = out[i]
        -- Still pending_review (never published), now expiring, without the entry only the queue showed.
        local lost = q.prefix .. out[i]
        if redis.call('TYPE', lost)['ok'] == 'hash' and redis.call('HGET', lost, 'status') == 'pending_review' then
          redis.call('HSET', lost, 'queue', 'lost', 'entry', '')
          redis.call('EXPIRE', lost, q.lost_ttl)
        end
      end
      redis.call('INCRBY', KEYS[5], #out / 2)
    end
  end
  local moved, dropped = result[3], #result - 3
  for _, ttl in ipairs(q.overflowed) do
    if moved > 0 then bump(KEYS[k], moved, ttl) end
    k = k + 1
  end
  for _, ttl in ipairs(q.lost) do
    if dropped > 0 then bump(KEYS[k], dropped, ttl) end
    k = k + 1
  end
end
return result
"""
)

# A moderator's decision. KEYS: 1 the status, 2 the log, 3 the queue, 4 its overflow, then the counters.
# ARGV[1] a JSON header, ARGV[2] the comment id, then the update's fields and the log entry's.
# Returns {'applied', log id}, {'changed', the status or nothing}, or {'taken'}.
_APPLY_DECISION = (
    _CHECK_TYPES
    + """
local h = cjson.decode(ARGV[1])
local id = ARGV[2]
for i, wanted in ipairs({'hash', 'stream', 'zset', 'zset'}) do
  local err = check_type(KEYS[i], wanted)
  if err then return err end
end
local current = redis.call('HGET', KEYS[1], 'status')
if current ~= h.expected then return {'changed', current} end
if h.claim then
  local waiting = redis.call('ZSCORE', KEYS[3], id) or redis.call('ZSCORE', KEYS[4], id)
  if not waiting and redis.call('HGET', KEYS[1], 'queue') ~= 'lost' then return {'taken'} end
end
local pos = 3 + 2 * h.nupdate
local log_id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', h.maxlen, '*', unpack(ARGV, pos, pos + 2 * h.nentry - 1))
redis.call('XTRIM', KEYS[2], 'MINID', '~', h.minid)
if h.claim then
  redis.call('ZREM', KEYS[3], id)
  redis.call('ZREM', KEYS[4], id)
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3, pos - 1))
redis.call('EXPIRE', KEYS[1], h.ttl)
local k = 5
for _, ttl in ipairs(h.counts) do bump(KEYS[k], 1, ttl); k = k + 1 end
return {'applied', log_id}
"""
)


# KEYS[1] the key's hash, KEYS[2] the set of ids. ARGV[1] the id, then field, value, field, value...
# Returns 1 when it stored the key, 0 when the id was taken.
_ADD_API_KEY = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('SADD', KEYS[2], ARGV[1])
return 1
"""

# KEYS[1] the key's hash. ARGV[1] the ms it is revoked at. Returns the hash afterwards (HGETALL's flat list),
# nothing when there is no such key.
_REVOKE_API_KEY = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if (redis.call('HGET', KEYS[1], 'revoked_ms') or '') == '' then
  redis.call('HSET', KEYS[1], 'revoked_ms', ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
"""


def _ttls(counts: Sequence[Count]) -> list[int]:
    return [check_ttl(ttl_s) for _, ttl_s in counts]


def _pairs(flat: Any) -> dict[str, str] | None:
    """A hash as a script returns HGETALL (a flat list), decoded; None for nothing."""
    if not flat:
        return None
    return {_text(flat[i]): _text(flat[i + 1]) for i in range(0, len(flat) - 1, 2)}


def _api_key(key_id: str, fields: dict[str, str] | None) -> ApiKeyRecord | None:
    """The record a key's hash holds; None for none, and for one that no longer parses (logged): a key that
    cannot be read is refused like an unknown one."""
    check_api_key_id(key_id)
    if fields is None:
        return None
    try:
        return ApiKeyRecord.from_fields(key_id, fields)
    except ValueError as exc:
        log.warning("API key %s: the stored record does not parse (%s); treated as unknown", key_id, exc)
        return None


@dataclass
class _Health:
    """What the store has learnt about its Redis: shared by the stores of every prefix on one connection, so
    that an outage one of them met spares the others the wait too."""

    next_backoff_s: float
    skip_until: float | None = None  # clock() before which calls don't reach Redis


def fail_fast_client(url: str, socket_timeout_s: float) -> aioredis.Redis:
    """A client on `url` that gives up quickly: `socket_timeout_s` to connect and for each reply, and no retry
    (retrying would double the wait on a Redis that is gone; callers degrade instead). Replies stay bytes:
    with decode_responses=True a value that is not UTF-8 would raise UnicodeDecodeError out of redis-py
    instead of being a logged miss. Connects lazily."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=socket_timeout_s,
        socket_connect_timeout=socket_timeout_s,
        retry=Retry(NoBackoff(), 0),
        decode_responses=False,
    )


class RedisStore:
    kind: Literal["redis"] = "redis"

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        description: str,
        prefix: str = DEFAULT_PREFIX,
        operation_timeout_s: float = 1.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prefer `from_url`. `client` should have its retries off, as there."""
        if backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError("need 0 < backoff_initial_s <= backoff_max_s")
        self._client = client
        self._keys = Keys(prefix)
        self._description = description
        self._operation_timeout_s = operation_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._clock = clock
        self._health = _Health(next_backoff_s=backoff_initial_s)
        self._claim_status = client.register_script(_CLAIM_STATUS)
        self._set_status_if = client.register_script(_SET_STATUS_IF)
        self._enqueue_review = client.register_script(_ENQUEUE_REVIEW)
        self._add_api_key = client.register_script(_ADD_API_KEY)
        self._write_record = client.register_script(_WRITE_RECORD)
        self._apply_decision = client.register_script(_APPLY_DECISION)
        self._revoke_api_key = client.register_script(_REVOKE_API_KEY)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        socket_timeout_s: float = 0.5,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> RedisStore:
        """A store on `url` (redis://, rediss:// or unix://) for the deployment under `prefix`. Connects
        lazily: no I/O happens here."""
        return cls(
            fail_fast_client(url, socket_timeout_s),
            description=mask_url(url),
            prefix=prefix,
            # Connect and one reply each have socket_timeout_s; this deadline bounds the whole call
            # whatever happens inside the driver.
            operation_timeout_s=2 * socket_timeout_s + 0.1,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            clock=clock,
        )

    @property
    def prefix(self) -> str:
        return self._keys.prefix

    @property
    def backing_off(self) -> bool:
        """Whether calls are currently skipped after a failure."""
        skip_until = self._health.skip_until
        return skip_until is not None and self._clock() < skip_until

    # -- the verdict cache -----------------------------------------------------------------------------------

    async def get_verdict(self, digest: str) -> dict[str, Any] | None:
        key = self._keys.verdict(digest)
        raw = await self._call("GET", lambda: self._client.get(key))
        if raw is None:
            return None
        verdict = load_verdict(raw)
        if verdict is None:
            log.warning("cached value under %s is not a JSON object; treating it as a miss", key)
        return verdict

    async def set_verdict(self, digest: str, verdict: dict[str, Any], ttl_s: int) -> None:
        key = self._keys.verdict(digest)
        check_ttl(ttl_s)
        raw = dump_verdict(verdict)
        await self._call("SET", lambda: self._client.set(key, raw, ex=ttl_s))

    async def get_verdicts(self, digests: Sequence[str]) -> list[dict[str, Any] | None]:
        keys = [self._keys.verdict(d) for d in digests]
        if not keys:
            return []
        raws = await self._call("MGET", lambda: self._client.mget(keys))
        verdicts: list[dict[str, Any] | None] = []
        for key, raw in zip(keys, raws, strict=True):
            verdict = None if raw is None else load_verdict(raw)
            if raw is not None and verdict is None:
                log.warning("cached value under %s is not a JSON object; treating it as a miss", key)
            verdicts.append(verdict)
        return verdicts

    async def set_verdicts(self, verdicts: Sequence[tuple[str, dict[str, Any]]], ttl_s: int) -> None:
        check_ttl(ttl_s)
        raws = [(self._keys.verdict(d), dump_verdict(v)) for d, v in verdicts]
        if not raws:
            return

        async def send() -> Any:
            async with self._client.pipeline(transaction=False) as pipe:
                for key, raw in raws:
                    pipe.set(key, raw, ex=ttl_s)
                return await pipe.execute()

        await self._call("SET", send)

    # -- the decision log: a capped Stream -------------------------------------------------------------------

    async def append_log(self, fields: Mapping[str, str], *, max_len: int, min_ms: int) -> LogCursor:
        stream = self._keys.decision_log()
        entry: dict[FieldT, EncodableT] = {k: v for k, v in check_fields(fields).items()}

        async def send() -> Any:
            # XADD takes one trim strategy; the second goes in the same round trip. `~` lets Redis trim
            # whole macro-nodes only, which keeps both O(1) amortized.
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.xadd(stream, entry, maxlen=max_len, approximate=True)
                pipe.xtrim(stream, minid=f"{max(min_ms, 0)}-0", approximate=True)
                return await pipe.execute()

        entry_id, _ = await self._call("XADD", send)
        return LogCursor.parse(_text(entry_id))

    async def read_log(
        self,
        *,
        count: int,
        before: LogCursor | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[LogEntry]:
        bounds = log_bounds(before, since_ms, until_ms)
        if bounds is None or count < 1:
            return []  # nothing to ask: an empty range is an error to XREVRANGE, not an empty answer
        oldest, newest = bounds
        stream = self._keys.decision_log()
        rows = await self._call(
            "XREVRANGE", lambda: self._client.xrevrange(stream, str(newest), str(oldest), count=count)
        )
        return [
            LogEntry(LogCursor.parse(_text(i)), {_text(k): _text(v) for k, v in (f or {}).items()})
            for i, f in rows or ()
        ]

    async def log_length(self) -> int:
        stream = self._keys.decision_log()
        return int(await self._call("XLEN", lambda: self._client.xlen(stream)))

    # -- statuses: one hash per comment ----------------------------------------------------------------------

    async def set_status(
        self,
        comment_id: str,
        fields: Mapping[str, str],
        *,
        ttl_s: int | None,
        evictable: bool = False,
        if_status_in: Collection[str] | None = None,
    ) -> bool:
        # `evictable` asks nothing of Redis: everything stays until its TTL, as it always has.
        key = self._keys.comment(comment_id)
        if ttl_s is not None:
            check_ttl(ttl_s)
        mapping: dict[FieldT, EncodableT] = {k: v for k, v in check_fields(fields).items()}
        if if_status_in is not None:
            allowed = list(if_status_in)
            args: list[EncodableT] = [ttl_s or 0, len(allowed), *allowed, *_flat(mapping)]
            done = await self._call("EVALSHA", lambda: self._set_status_if(keys=[key], args=args))
            return bool(done)

        async def send() -> Any:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=mapping)
                if ttl_s is None:
                    pipe.persist(key)
                else:
                    pipe.expire(key, ttl_s)
                return await pipe.execute()

        await self._call("HSET", send)
        return True

    async def claim_status(
        self, comment_id: str, fields: Mapping[str, str], *, ttl_s: int | None, evictable: bool = False
    ) -> dict[str, str] | None:
        key = self._keys.comment(comment_id)
        if ttl_s is not None:
            check_ttl(ttl_s)
        args: list[EncodableT] = [ttl_s or 0, *_flat(check_fields(fields))]
        found = await self._call("EVALSHA", lambda: self._claim_status(keys=[key], args=args))
        return _pairs(found)

    async def get_status(self, comment_id: str) -> dict[str, str] | None:
        key = self._keys.comment(comment_id)
        value = await self._call("HGETALL", lambda: self._client.hgetall(key))
        return _fields(value)

    async def get_statuses(self, comment_ids: Sequence[str]) -> list[dict[str, str] | None]:
        keys = [self._keys.comment(i) for i in comment_ids]
        if not keys:
            return []

        async def send() -> Any:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(key)
                return await pipe.execute()

        values = await self._call("HGETALL", send)
        return [_fields(value) for value in values]

    # -- the review queue: a sorted set of comment ids by the ms they entered -----------------------------

    async def enqueue_review(
        self, comment_id: str, entered_ms: int, *, limit: int | None = None, overflow_limit: int = 0
    ) -> Spill:
        check_comment_id(comment_id)  # the queue holds bare ids; the check is the one Keys.comment makes
        keys = [self._keys.review_queue(), self._keys.review_overflow(), self._keys.review_lost()]
        args: list[EncodableT] = [
            comment_id,
            entered_ms,
            -1 if limit is None else limit,
            max(overflow_limit, 0),
        ]
        result = await self._call("EVALSHA", lambda: self._enqueue_review(keys=keys, args=args))
        return Spill(int(result[0]), tuple(_text(i) for i in result[1:]))

    async def claim_review(self, comment_id: str) -> bool:
        check_comment_id(comment_id)
        queue, overflow = self._keys.review_queue(), self._keys.review_overflow()

        async def send() -> Any:
            # MULTI: both removals happen together, so of concurrent claimers exactly one sees a removal.
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.zrem(queue, comment_id)
                pipe.zrem(overflow, comment_id)
                return await pipe.execute()

        removed = await self._call("ZREM", send)
        return any(bool(n) for n in removed)

    async def review_page(self, offset: int, count: int, *, overflow: bool = False) -> list[str]:
        if count < 1:
            return []
        queue = self._keys.review_overflow() if overflow else self._keys.review_queue()
        start = max(offset, 0)  # a negative start counts from the end
        members = await self._call("ZRANGE", lambda: self._client.zrange(queue, start, start + count - 1))
        return [_text(m) for m in members]

    async def review_count(self, *, overflow: bool = False) -> int:
        queue = self._keys.review_overflow() if overflow else self._keys.review_queue()
        return int(await self._call("ZCARD", lambda: self._client.zcard(queue)))

    async def review_lost(self) -> int:
        lost = self._keys.review_lost()
        value = await self._call("GET", lambda: self._client.get(lost))
        return int(value or 0)

    # -- counters: one string per counter, with a TTL from its creation -------------------------------------

    async def add_counts(self, counters: Sequence[CounterName], ttl_s: int) -> None:
        check_ttl(ttl_s)
        keys = [self._counter_key(c) for c in counters]
        if not keys:
            return

        async def send() -> Any:
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incr(key)
                    pipe.expire(key, ttl_s, nx=True)
                return await pipe.execute()

        await self._call("INCR", send)

    async def read_counts(self, counters: Sequence[CounterName]) -> list[int]:
        keys = [self._counter_key(c) for c in counters]
        if not keys:
            return []
        values = await self._call("MGET", lambda: self._client.mget(keys))
        return [int(v) if v is not None else 0 for v in values]

    def _counter_key(self, counter: CounterName) -> str:
        return self._keys.counter(counter.period, counter.bucket, counter.dimension, counter.value)

    # -- whole records and decisions: one script each, a batch of records in one round trip -----------------

    async def write_records(self, writes: Sequence[RecordWrite]) -> list[RecordResult]:
        calls = [self._record_call(w) for w in writes]  # everything refused before anything is sent
        if not calls:
            return []
        replies = await self._evalsha_all("EVALSHA", self._write_record, calls)
        results = []
        for reply in replies:
            if int(reply[0]) == 0:
                results.append(RecordResult(False, found=_pairs(reply[1])))
                continue
            log_id = LogCursor.parse(_text(reply[1])) if reply[1] else None
            spill = Spill(int(reply[2]), tuple(_text(i) for i in reply[3:]))
            results.append(RecordResult(True, log_id=log_id, spill=spill))
        return results

    def _record_call(self, write: RecordWrite) -> tuple[list[EncodableT], list[EncodableT]]:
        check_comment_id(write.comment_id)
        status = check_fields(write.status)
        if write.ttl_s is not None:
            check_ttl(write.ttl_s)
        entry = check_fields(write.log_entry) if write.log_entry is not None else {}
        place = write.queue
        counts = list(write.counts) + (list(place.overflowed) + list(place.lost) if place else [])
        keys: list[EncodableT] = [
            self._keys.comment(write.comment_id),
            self._keys.decision_log(),
            self._keys.review_queue(),
            self._keys.review_overflow(),
            self._keys.review_lost(),
            *(self._counter_key(c) for c, _ in counts),
        ]
        header = {
            "claim": write.if_status_in is None,
            "allowed": list(write.if_status_in or ()),
            "nstatus": len(status),
            "nentry": len(entry),
            "maxlen": write.log_max_len,
            "minid": f"{max(write.log_min_ms, 0)}-0",
            "entry": write.entry_json is not None,
            "ttl": write.ttl_s or 0,
            "unqueue": write.unqueue,
            "counts": _ttls(write.counts),
            "queue": False
            if place is None
            else {
                "ms": str(place.entered_ms),
                "limit": -1 if place.limit is None else place.limit,
                "over": max(place.overflow_limit, 0),
                "lost_ttl": check_ttl(place.lost_ttl_s),
                "prefix": self._keys.comment_prefix(),
                "overflowed": _ttls(place.overflowed),
                "lost": _ttls(place.lost),
            },
        }
        args: list[EncodableT] = [json.dumps(header), write.comment_id, *_flat(status), *_flat(entry)]
        if write.entry_json is not None:
            args.append(write.entry_json)
        return keys, args

    async def apply_decision(self, decision: DecisionWrite) -> DecisionResult:
        check_comment_id(decision.comment_id)
        update, entry = check_fields(decision.update), check_fields(decision.log_entry)
        keys: list[EncodableT] = [
            self._keys.comment(decision.comment_id),
            self._keys.decision_log(),
            self._keys.review_queue(),
            self._keys.review_overflow(),
            *(self._counter_key(c) for c, _ in decision.counts),
        ]
        header = {
            "expected": decision.expected_status,
            "claim": decision.claim_review,
            "ttl": check_ttl(decision.ttl_s),
            "nupdate": len(update),
            "nentry": len(entry),
            "maxlen": decision.log_max_len,
            "minid": f"{max(decision.log_min_ms, 0)}-0",
            "counts": _ttls(decision.counts),
        }
        args: list[EncodableT] = [json.dumps(header), decision.comment_id, *_flat(update), *_flat(entry)]
        (reply,) = await self._evalsha_all("EVALSHA", self._apply_decision, [(keys, args)])
        outcome = _text(reply[0])
        if outcome == "applied":
            return DecisionResult("applied", decision.expected_status, LogCursor.parse(_text(reply[1])))
        if outcome == "taken":
            return DecisionResult("taken", decision.expected_status)
        current = reply[1] if len(reply) > 1 else None
        return DecisionResult("changed", None if current is None else _text(current))

    async def _evalsha_all(
        self, command: str, script: Any, calls: Sequence[tuple[list[EncodableT], list[EncodableT]]]
    ) -> list[Any]:
        """Run `script` once per (keys, args) in one pipeline: one round trip while Redis has the script; after
        a Redis restart (NOSCRIPT: those calls did not run) it is loaded and they are sent again."""

        async def send() -> list[Any]:
            async def run(batch: Sequence[tuple[list[EncodableT], list[EncodableT]]]) -> list[Any]:
                async with self._client.pipeline(transaction=False) as pipe:
                    for keys, args in batch:
                        pipe.evalsha(script.sha, len(keys), *keys, *args)
                    return list(await pipe.execute(raise_on_error=False))

            replies = await run(calls)
            missing = [i for i, r in enumerate(replies) if isinstance(r, redis_errors.NoScriptError)]
            if missing:
                await self._client.script_load(script.script)
                for i, reply in zip(missing, await run([calls[i] for i in missing]), strict=True):
                    replies[i] = reply
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            return replies

        return await self._call(command, send)

    # -- moderators' sessions (login hardening, issue 10): a hash per session, a counter per user ----------

    async def put_session(self, key: str, fields: Mapping[str, str], ttl_s: int) -> None:
        name = self._keys.session(key)
        check_ttl(ttl_s)
        mapping: dict[FieldT, EncodableT] = {k: v for k, v in check_fields(fields).items()}

        async def send() -> Any:
            # One transaction: a session never exists without its expiry, nor keeps fields of an older one.
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.delete(name)
                pipe.hset(name, mapping=mapping)
                pipe.expire(name, ttl_s)
                return await pipe.execute()

        await self._call("HSET", send)

    async def get_session(self, key: str) -> dict[str, str] | None:
        name = self._keys.session(key)
        return _fields(await self._call("HGETALL", lambda: self._client.hgetall(name)))

    async def delete_session(self, key: str) -> None:
        check_session_key(key)
        name = self._keys.session(key)
        await self._call("DEL", lambda: self._client.delete(name))

    async def session_epoch(self, user: str) -> int:
        name = self._keys.session_epoch(user)
        value = await self._call("GET", lambda: self._client.get(name))
        return int(value) if value is not None else 0

    async def next_session_epoch(self, user: str) -> int:
        name = self._keys.session_epoch(user)
        return int(await self._call("INCR", lambda: self._client.incr(name)))

    # -- API keys per site (issue 13): a hash per key, a set of their ids -------------------------------------

    async def add_api_key(self, record: ApiKeyRecord) -> bool:
        keys = [self._keys.api_key(record.id), self._keys.api_key_ids()]
        args: list[EncodableT] = [record.id, *_flat(record.fields())]
        added = await self._call("EVALSHA", lambda: self._add_api_key(keys=keys, args=args))
        return bool(added)

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        name = self._keys.api_key(key_id)
        fields = _fields(await self._call("HGETALL", lambda: self._client.hgetall(name)))
        return _api_key(key_id, fields)

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        ids_key = self._keys.api_key_ids()
        ids = sorted(_text(i) for i in await self._call("SMEMBERS", lambda: self._client.smembers(ids_key)))
        names = [self._keys.api_key(i) for i in ids]

        async def send() -> Any:
            async with self._client.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.hgetall(name)
                return await pipe.execute()

        values = await self._call("HGETALL", send) if names else []
        records = [_api_key(i, _fields(v)) for i, v in zip(ids, values, strict=True)]
        return sorted((r for r in records if r is not None), key=lambda r: (r.created_ms, r.id))

    async def revoke_api_key(self, key_id: str, at_ms: int) -> ApiKeyRecord | None:
        keys = [self._keys.api_key(key_id)]
        found = await self._call("EVALSHA", lambda: self._revoke_api_key(keys=keys, args=[at_ms]))
        return _api_key(key_id, _pairs(found))

    # -- the connection --------------------------------------------------------------------------------------

    async def ping(self) -> bool:
        # Ignores the backoff on purpose: /readyz should report the truth, and a success here brings
        # the store back into service without waiting for the backoff to run out.
        try:
            async with asyncio.timeout(self._operation_timeout_s):
                answered = bool(await self._client.ping())
        except _CONNECTION_ERRORS as exc:
            await self._failed(exc, "PING")
            return False
        except redis_errors.RedisError as exc:  # e.g. NOAUTH: it answers, but not to us
            log.warning("Redis at %s refused PING: %s", self._description, exc)
            return False
        except Exception:  # ping must never raise
            log.exception("unexpected error pinging Redis at %s", self._description)
            return False
        if answered:
            self._succeeded()
        return answered

    async def aclose(self) -> None:
        try:
            await self._client.aclose()
        except (redis_errors.RedisError, OSError) as exc:  # a dead connection must not fail a shutdown
            log.debug("error closing the Redis client: %s", exc)

    def describe(self) -> str:
        return self._description

    def __repr__(self) -> str:
        return f"RedisStore({self._description!r}, prefix={self._keys.prefix!r})"

    async def _call(self, command: str, send: Callable[[], Awaitable[T]]) -> T:
        skip_until = self._health.skip_until
        if skip_until is not None and self._clock() < skip_until:
            remaining = skip_until - self._clock()
            raise StoreUnavailable(
                f"Redis at {self._description} skipped for {remaining:.1f} s more after a failure"
            )
        try:
            async with asyncio.timeout(self._operation_timeout_s):
                result = await send()
        except _CONNECTION_ERRORS as exc:
            await self._failed(exc, command)
            raise StoreUnavailable(f"Redis at {self._description} unavailable ({command}): {exc}") from exc
        except redis_errors.RedisError as exc:
            log.warning("Redis at %s refused %s: %s", self._description, command, exc)
            raise StoreUnavailable(f"Redis at {self._description} refused {command}: {exc}") from exc
        self._succeeded()
        return result

    async def _failed(self, exc: BaseException, command: str) -> None:
        health, now = self._health, self._clock()
        if health.skip_until is not None and now < health.skip_until:
            # Calls that were in flight when Redis went away, or a /readyz ping during the backoff:
            # the outage is already known, so the backoff neither restarts nor grows.
            return
        backoff_s = health.next_backoff_s
        health.skip_until = now + backoff_s
        health.next_backoff_s = min(backoff_s * 2, self._backoff_max_s)
        log.warning(
            "Redis at %s unavailable (%s: %s); skipping it for %.1f s, requests are scored uncached",
            self._description,
            command,
            exc or type(exc).__name__,
            backoff_s,
        )
        # Idle pooled connections may be half-open after an outage; drop them so that the probe after
        # the backoff starts from fresh connections instead of failing on a stale one.
        try:
            await self._client.connection_pool.disconnect(inuse_connections=False)
        except (redis_errors.RedisError, OSError) as disconnect_exc:
            log.debug("error dropping pooled Redis connections: %s", disconnect_exc)

    def _succeeded(self) -> None:
        health = self._health
        if health.skip_until is None:
            return
        log.info("Redis at %s answers again; verdict cache back in service", self._description)
        health.skip_until = None
        health.next_backoff_s = self._backoff_initial_s
