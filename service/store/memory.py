"""The store in process memory, for runs with no Redis (`REDIS_URL` unset) and for tests.

It behaves like the Redis store wherever a caller can tell, and the shared suite in tests/store holds the two
to that: verdicts go through the same JSON encoding (a caller mutating a returned verdict never changes the
cache, and a value Redis would refuse is refused here too), TTLs are honoured, log positions grow as Redis
numbers them, names Redis could not key on are refused alike. It is per process: workers don't share it and
a restart empties it.

Memory is bounded where Redis would only be bounded by its own memory, never at the cost of a moderator. Each
collection, its bound, and what happens past it:
- cached verdicts: at most `max_entries`; past it the least recently set goes first (a cache may forget);
- statuses the service decided (`evictable=True` with an expiry: accepted, rejected, reviews lost from the
  overflow): at most `max_entries`, the least recently set going first, so `status()` can answer "unknown"
  for an old accepted comment here before its retention is over;
- statuses held (pending reviews, moderators' decisions: anything without an expiry or not evictable): never
  evicted, whatever the traffic; they expire as in Redis (pending reviews never) and expired ones are swept
  out as the table grows. At most `max_held`: past it a new held status is refused with StoreFull (nothing of
  that record or decision is written), until reviews are decided or decisions expire;
- the review queue and its overflow: bounded by the caller's caps, as in Redis (what falls out of the overflow
  is counted, and its status left to expire); with no cap given, by `max_held`;
- the decision log: capped by the caller's `max_len` and `min_ms`, exactly (Redis trims in blocks);
- counters: they expire as in Redis; expired ones are swept out once there are 4 x `max_entries` (their names
  are a fixed vocabulary per minute and hour bucket, a few thousand live at once);
- moderators' sessions: they expire as in Redis, and expired ones are swept out once there are
  `max_entries`; past that the oldest go first (a moderator logs in again). Only a right password makes
  one, and logins are rate limited, so the bound is a backstop. Session epochs: one number per user;
- the sites' API keys: at most MAX_API_KEYS (only an operator makes them; past it StoreFull). Tests, and a
  single process that makes its own keys: `moderation keys` cannot reach another process's memory.
"""

from __future__ import annotations

import bisect
import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Literal, NamedTuple

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
    StoreFull,
    check_api_key_id,
    check_comment_id,
    check_digest,
    check_fields,
    check_session_key,
    check_ttl,
    check_user,
    dump_verdict,
    load_verdict,
    log_bounds,
)

#: The sites' API keys the memory store keeps at most (an operator's, one per site: far more than any).
MAX_API_KEYS = 10_000


class _Status(NamedTuple):
    expires_at: float | None  # on the monotonic clock; None: kept until set again
    fields: dict[str, str]


def _oldest(entries: dict[str, float]) -> str:
    """The id that entered first (ties by id, as Redis orders equal scores)."""
    return min(entries.items(), key=lambda item: (item[1], item[0]))[0]


class MemoryStore:
    kind: Literal["memory"] = "memory"

    def __init__(
        self,
        max_entries: int = 100_000,
        *,
        max_held: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        if max_held < 1:
            raise ValueError(f"max_held must be >= 1, got {max_held!r}")
        self.max_entries = max_entries
        self.max_held = max_held
        self._clock = clock
        self._wall_clock = wall_clock  # log positions are wall-clock milliseconds, as Redis makes them
        # digest -> (expires_at, stored JSON); insertion order is age order, so the first entry is the oldest.
        self._verdicts: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._log: list[LogEntry] = []  # oldest first
        self._statuses: dict[str, _Status] = {}
        # The evictable statuses' ids, least recently set first: the only statuses the bound may drop.
        self._evictable: OrderedDict[str, None] = OrderedDict()
        self._sweep_statuses_at = 2 * max_entries
        self._queue: dict[str, float] = {}  # comment id -> ms it entered
        self._overflow: dict[str, float] = {}  # the same, for those the full queue moved out
        self._lost = 0
        self._counters: dict[CounterName, tuple[float, int]] = {}  # -> (expires_at, value)
        # Moderators' sessions: key -> (expires_at, fields), oldest first; and each user's session epoch.
        self._sessions: OrderedDict[str, tuple[float, dict[str, str]]] = OrderedDict()
        self._session_epochs: dict[str, int] = {}
        # The sites' API keys by id. Only an operator makes them (few, and never evicted).
        self._api_keys: dict[str, ApiKeyRecord] = {}

    def __len__(self) -> int:
        """Cached verdicts held, expired ones not yet noticed included."""
        return len(self._verdicts)

    # -- the verdict cache -----------------------------------------------------------------------------------

    async def get_verdict(self, digest: str) -> dict[str, Any] | None:
        check_digest(digest)
        entry = self._verdicts.get(digest)
        if entry is None:
            return None
        expires_at, raw = entry
        if self._clock() >= expires_at:
            del self._verdicts[digest]
            return None
        return load_verdict(raw)

    async def set_verdict(self, digest: str, verdict: dict[str, Any], ttl_s: int) -> None:
        check_digest(digest)
        check_ttl(ttl_s)
        raw = dump_verdict(verdict)
        # Re-setting makes it the newest, as a fresh SET would in Redis.
        self._verdicts.pop(digest, None)
        self._verdicts[digest] = (self._clock() + ttl_s, raw)
        while len(self._verdicts) > self.max_entries:
            self._verdicts.popitem(last=False)

    async def get_verdicts(self, digests: Sequence[str]) -> list[dict[str, Any] | None]:
        return [await self.get_verdict(d) for d in digests]

    async def set_verdicts(self, verdicts: Sequence[tuple[str, dict[str, Any]]], ttl_s: int) -> None:
        check_ttl(ttl_s)
        # Every value checked before any is stored: a bad one refuses the batch, as Redis' client would.
        raws = [(check_digest(d), dump_verdict(v)) for d, v in verdicts]
        for digest, raw in raws:
            self._verdicts.pop(digest, None)
            self._verdicts[digest] = (self._clock() + ttl_s, raw)
        while len(self._verdicts) > self.max_entries:
            self._verdicts.popitem(last=False)

    # -- the decision log ------------------------------------------------------------------------------------

    async def append_log(self, fields: Mapping[str, str], *, max_len: int, min_ms: int) -> LogCursor:
        check_fields(fields)
        return self._append(fields, max_len, min_ms)

    def _append(self, fields: Mapping[str, str], max_len: int, min_ms: int) -> LogCursor:
        position = LogCursor(max(int(self._wall_clock() * 1000), 0), 0)
        if self._log and position <= self._log[-1].id:  # positions only grow, even when the clock steps back
            last = self._log[-1].id
            position = LogCursor(last.ms, last.seq + 1)
        self._log.append(LogEntry(position, {str(k): str(v) for k, v in fields.items()}))
        cut = bisect.bisect_left(self._log, LogCursor(max(min_ms, 0), 0), key=lambda e: e.id)
        cut = max(cut, len(self._log) - max_len)
        if cut > 0:
            del self._log[:cut]
        return position

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
            return []
        oldest, newest = bounds
        lo = bisect.bisect_left(self._log, oldest, key=lambda e: e.id)
        hi = bisect.bisect_right(self._log, newest, key=lambda e: e.id)
        picked = self._log[max(lo, hi - count) : hi]
        return [LogEntry(e.id, dict(e.fields)) for e in reversed(picked)]

    async def log_length(self) -> int:
        return len(self._log)

    # -- statuses --------------------------------------------------------------------------------------------

    async def set_status(
        self,
        comment_id: str,
        fields: Mapping[str, str],
        *,
        ttl_s: int | None,
        evictable: bool = False,
        if_status_in: Collection[str] | None = None,
    ) -> bool:
        check_comment_id(comment_id)
        check_fields(fields)
        if ttl_s is not None:
            check_ttl(ttl_s)
        # No await between reading and writing: the test and the set are one step, as in Redis' script.
        current = self._current_status(comment_id)
        if if_status_in is not None and (current or {}).get("status") not in if_status_in:
            return False
        self._make_room(comment_id, ttl_s, evictable)
        self._put_status(comment_id, {**(current or {}), **fields}, ttl_s, evictable)
        return True

    async def claim_status(
        self, comment_id: str, fields: Mapping[str, str], *, ttl_s: int | None, evictable: bool = False
    ) -> dict[str, str] | None:
        check_comment_id(comment_id)
        check_fields(fields)
        if ttl_s is not None:
            check_ttl(ttl_s)
        current = self._current_status(comment_id)
        if current is not None:
            return current
        self._make_room(comment_id, ttl_s, evictable)
        self._put_status(comment_id, dict(fields), ttl_s, evictable)
        return None

    def _put_status(
        self, comment_id: str, fields: Mapping[str, str], ttl_s: int | None, evictable: bool
    ) -> None:
        expires_at = None if ttl_s is None else self._clock() + ttl_s
        self._statuses[comment_id] = _Status(expires_at, {str(k): str(v) for k, v in fields.items()})
        self._evictable.pop(comment_id, None)
        # Without an expiry a status is waiting for a moderator: whatever the caller says, it stays.
        if evictable and expires_at is not None:
            self._evictable[comment_id] = None
            while len(self._evictable) > self.max_entries:
                oldest, _ = self._evictable.popitem(last=False)
                del self._statuses[oldest]
        if len(self._statuses) > self._sweep_statuses_at:
            self._sweep_expired_statuses()

    def _make_room(self, comment_id: str, ttl_s: int | None, evictable: bool, *, needed: int = 1) -> None:
        """Raise StoreFull, before anything is written, when the status (or `needed` of them) would join the
        held ones (pending reviews, moderators' decisions) and `max_held` of them are kept already."""
        if evictable and ttl_s is not None:
            return
        if needed == 1 and comment_id in self._statuses and comment_id not in self._evictable:
            return  # held already: it takes no new room
        if len(self._statuses) - len(self._evictable) + needed > self.max_held:
            self._sweep_expired_statuses()
        if len(self._statuses) - len(self._evictable) + needed > self.max_held:
            raise StoreFull(
                f"the memory store holds {self.max_held} pending reviews and moderators' decisions, its limit "
                "(MODERATION_MEMORY_MAX_HELD): decide reviews, or run with Redis (REDIS_URL)"
            )

    async def get_status(self, comment_id: str) -> dict[str, str] | None:
        return self._current_status(comment_id)

    def _current_status(self, comment_id: str) -> dict[str, str] | None:
        check_comment_id(comment_id)
        status = self._statuses.get(comment_id)
        if status is None:
            return None
        if status.expires_at is not None and self._clock() >= status.expires_at:
            self._forget_status(comment_id)
            return None
        return dict(status.fields)

    async def get_statuses(self, comment_ids: Sequence[str]) -> list[dict[str, str] | None]:
        return [await self.get_status(i) for i in comment_ids]

    def _forget_status(self, comment_id: str) -> None:
        self._statuses.pop(comment_id, None)
        self._evictable.pop(comment_id, None)

    def _sweep_expired_statuses(self) -> None:
        now = self._clock()
        for comment_id in [
            i for i, s in self._statuses.items() if s.expires_at is not None and now >= s.expires_at
        ]:
            self._forget_status(comment_id)
        # What survives is held on purpose (pending, moderators' decisions): sweep again once it doubles.
        self._sweep_statuses_at = 2 * max(len(self._statuses), self.max_entries)

    # -- the review queue ------------------------------------------------------------------------------------

    async def enqueue_review(
        self, comment_id: str, entered_ms: int, *, limit: int | None = None, overflow_limit: int = 0
    ) -> Spill:
        check_comment_id(comment_id)
        return self._enqueue(comment_id, entered_ms, limit, overflow_limit)

    def _enqueue(self, comment_id: str, entered_ms: int, limit: int | None, overflow_limit: int) -> Spill:
        # Uncapped by the caller, or capped beyond what it may hold: the store's own cap, on both.
        if limit is None:
            limit, overflow_limit = self.max_held, self.max_held
        limit, overflow_limit = min(limit, self.max_held), min(overflow_limit, self.max_held)
        self._overflow.pop(comment_id, None)
        self._queue[comment_id] = float(entered_ms)
        moved = 0
        while len(self._queue) > limit:
            oldest = _oldest(self._queue)
            self._overflow[oldest] = self._queue.pop(oldest)
            moved += 1
        lost: list[str] = []
        while len(self._overflow) > max(overflow_limit, 0):
            oldest = _oldest(self._overflow)
            del self._overflow[oldest]
            lost.append(oldest)
        self._lost += len(lost)
        return Spill(moved, tuple(lost))

    async def claim_review(self, comment_id: str) -> bool:
        # No await between the test and the removal: of concurrent claimers exactly one gets True.
        check_comment_id(comment_id)
        in_queue = self._queue.pop(comment_id, None) is not None
        in_overflow = self._overflow.pop(comment_id, None) is not None
        return in_queue or in_overflow

    async def review_page(self, offset: int, count: int, *, overflow: bool = False) -> list[str]:
        if count < 1:
            return []
        # Ties in time are ordered by id, as Redis orders equal scores.
        ordered = sorted(
            (self._overflow if overflow else self._queue).items(), key=lambda item: (item[1], item[0])
        )
        return [comment_id for comment_id, _ in ordered[max(offset, 0) : max(offset, 0) + count]]

    async def review_count(self, *, overflow: bool = False) -> int:
        return len(self._overflow if overflow else self._queue)

    async def review_lost(self) -> int:
        return self._lost

    # -- counters --------------------------------------------------------------------------------------------

    async def add_counts(self, counters: Sequence[CounterName], ttl_s: int) -> None:
        check_ttl(ttl_s)
        self._add_counts(counters, ttl_s)

    def _add_counts(self, counters: Sequence[CounterName], ttl_s: int) -> None:
        now = self._clock()
        for counter in counters:
            expires_at, value = self._counters.get(counter, (0.0, 0))
            if now >= expires_at:
                expires_at, value = now + ttl_s, 0
            self._counters[counter] = (expires_at, value + 1)
        if len(self._counters) > 4 * self.max_entries:
            self._counters = {c: v for c, v in self._counters.items() if v[0] > now}

    async def read_counts(self, counters: Sequence[CounterName]) -> list[int]:
        now = self._clock()
        values = []
        for counter in counters:
            expires_at, value = self._counters.get(counter, (0.0, 0))
            values.append(value if now < expires_at else 0)
        return values

    # -- whole records and decisions: no await between the first test and the last write, so each is one step

    async def write_records(self, writes: Sequence[RecordWrite]) -> list[RecordResult]:
        for write in writes:  # everything a write could refuse, before anything of the batch is written
            self._check_record(write)
        # Room for the batch's new held statuses, or none of it is written (a batch is answered as one).
        new_held = {
            w.comment_id
            for w in writes
            if not (w.evictable and w.ttl_s is not None)
            and (w.comment_id not in self._statuses or w.comment_id in self._evictable)
        }
        if new_held:
            self._make_room(next(iter(new_held)), None, False, needed=len(new_held))
        return [self._write_record(w) for w in writes]

    def _check_record(self, write: RecordWrite) -> None:
        check_comment_id(write.comment_id)
        check_fields(write.status)
        if write.ttl_s is not None:
            check_ttl(write.ttl_s)
        if write.log_entry is not None:
            check_fields(write.log_entry)
        if write.queue is not None:
            check_ttl(write.queue.lost_ttl_s)
        for _, ttl_s in (*write.counts, *(write.queue.overflowed if write.queue else ())):
            check_ttl(ttl_s)

    def _write_record(self, write: RecordWrite) -> RecordResult:
        current = self._current_status(write.comment_id)
        if write.if_status_in is None:
            if current is not None:
                return RecordResult(False, found=current)
            fields = dict(write.status)
        else:
            if (current or {}).get("status") not in write.if_status_in:
                return RecordResult(False)
            fields = {**(current or {}), **write.status}
        self._make_room(write.comment_id, write.ttl_s, write.evictable)
        log_id = None
        if write.log_entry is not None:
            log_id = self._append(write.log_entry, write.log_max_len, write.log_min_ms)
            fields["log_id"] = str(log_id)
            if write.entry_json is not None:
                fields["entry"] = write.entry_json
        self._put_status(write.comment_id, fields, write.ttl_s, write.evictable)
        if write.unqueue:
            self._queue.pop(write.comment_id, None)
            self._overflow.pop(write.comment_id, None)
        self._add(write.counts)
        spill = Spill()
        if write.queue is not None:
            place = write.queue
            spill = self._enqueue(write.comment_id, place.entered_ms, place.limit, place.overflow_limit)
            for lost_id in spill.lost:
                lost = self._current_status(lost_id)
                if lost is not None and lost.get("status") == "pending_review":
                    self._put_status(lost_id, {**lost, "queue": "lost", "entry": ""}, place.lost_ttl_s, True)
            self._add(place.overflowed * spill.moved + place.lost * len(spill.lost))
        return RecordResult(True, log_id=log_id, spill=spill)

    async def apply_decision(self, decision: DecisionWrite) -> DecisionResult:
        check_comment_id(decision.comment_id)
        check_fields(decision.update)
        check_fields(decision.log_entry)
        check_ttl(decision.ttl_s)
        for _, ttl_s in decision.counts:
            check_ttl(ttl_s)
        comment_id = decision.comment_id
        current = self._current_status(comment_id)
        status = (current or {}).get("status")
        if current is None or status != decision.expected_status:
            return DecisionResult("changed", status)
        if decision.claim_review:
            waiting = comment_id in self._queue or comment_id in self._overflow
            if not waiting and current.get("queue") != "lost":
                return DecisionResult("taken", status)
        self._make_room(comment_id, decision.ttl_s, False)
        if decision.claim_review:
            self._queue.pop(comment_id, None)
            self._overflow.pop(comment_id, None)
        log_id = self._append(decision.log_entry, decision.log_max_len, decision.log_min_ms)
        # A moderator's decision is never evicted: it expires with its TTL only.
        self._put_status(comment_id, {**current, **decision.update}, decision.ttl_s, False)
        self._add(decision.counts)
        return DecisionResult("applied", status, log_id)

    def _add(self, counts: Sequence[Count]) -> None:
        for counter, ttl_s in counts:
            self._add_counts([counter], ttl_s)

    # -- moderators' sessions (login hardening, issue 10) ---------------------------------------------------

    async def put_session(self, key: str, fields: Mapping[str, str], ttl_s: int) -> None:
        check_session_key(key)
        check_fields(fields)
        check_ttl(ttl_s)
        now = self._clock()
        self._sessions.pop(key, None)
        self._sessions[key] = (now + ttl_s, {str(k): str(v) for k, v in fields.items()})
        if len(self._sessions) > self.max_entries:
            for stale in [k for k, (expires_at, _) in self._sessions.items() if now >= expires_at]:
                del self._sessions[stale]
            while len(self._sessions) > self.max_entries:
                self._sessions.popitem(last=False)

    async def get_session(self, key: str) -> dict[str, str] | None:
        check_session_key(key)
        entry = self._sessions.get(key)
        if entry is None:
            return None
        expires_at, fields = entry
        if self._clock() >= expires_at:
            del self._sessions[key]
            return None
        return dict(fields)

    async def delete_session(self, key: str) -> None:
        self._sessions.pop(check_session_key(key), None)

    async def session_epoch(self, user: str) -> int:
        return self._session_epochs.get(check_user(user), 0)

    async def next_session_epoch(self, user: str) -> int:
        epoch = self._session_epochs.get(check_user(user), 0) + 1
        self._session_epochs[user] = epoch
        return epoch

    # -- the rest of the protocol ----------------------------------------------------------------------------

    # -- API keys per site (issue 13) -----------------------------------------------------------------------

    async def add_api_key(self, record: ApiKeyRecord) -> bool:
        if record.id in self._api_keys:
            return False
        if len(self._api_keys) >= MAX_API_KEYS:
            raise StoreFull(f"the memory store keeps at most {MAX_API_KEYS} API keys; delete unused ones")
        self._api_keys[record.id] = record
        return True

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        return self._api_keys.get(check_api_key_id(key_id))

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        return sorted(self._api_keys.values(), key=lambda r: (r.created_ms, r.id))

    async def revoke_api_key(self, key_id: str, at_ms: int) -> ApiKeyRecord | None:
        record = self._api_keys.get(check_api_key_id(key_id))
        if record is None or record.revoked:
            return record
        self._api_keys[key_id] = revoked = dataclasses.replace(record, revoked_ms=at_ms)
        return revoked

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        self._verdicts.clear()

    def describe(self) -> str:
        return "memory"

    def __repr__(self) -> str:
        return f"MemoryStore(max_entries={self.max_entries}, verdicts={len(self._verdicts)})"
