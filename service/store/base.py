"""What the service stores, in its own terms: its protocols, the values they trade in, and their one error.

    VerdictCache    the pipeline's: a verdict by its digest, for a TTL
    DecisionStore   the moderators' log's: the decision log, each comment's status, the review queue and
                    the dashboard's counters
    SessionStore    the login's: moderators' sessions, kept server side so that a logout ends them
    ApiKeyStore     the scoring doors': each site's API keys, as digests (also kept in a file: keyfile.py)
    Store           all four in one object (what `open_store` returns and the runtime wires to each),
                    which can be re-aimed at another deployment's prefix

Callers name things (a digest, a comment id, a `CounterName`, a `LogCursor`); where a name lives is the
store's business. Only the Redis store turns names into keys, through `service.store.keys`; the memory store
keeps the names as they are.

    Exception
     └── StoreUnavailable   the store could not answer (Redis down, timed out, refused the command);
                            callers carry on uncached. Implementations never let a driver's own
                            exception (redis.exceptions.*, OSError) escape instead.

Programming errors are not unavailability and propagate as themselves, identically in every store: a TTL
below one second, an empty comment id, a digest or counter name Redis could not key on, a log position out
of range, a log entry or status without fields (all ValueError), or a verdict that is not JSON-serializable
(TypeError).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from service.config import web_origin

StoreKind = Literal["redis", "memory"]
CounterPeriod = Literal["m", "h"]

MAX_ID_PART = 2**64 - 1
"""Redis numbers stream entries with two unsigned 64-bit parts; a position beyond that cannot exist."""


class StoreUnavailable(Exception):
    """The store could not answer; the request goes on without the cache."""


class StoreFull(StoreUnavailable):
    """The memory store is at one of its documented limits on what it must never drop on its own (pending
    reviews and moderators' decisions, the sites' API keys): it refuses a new one rather than forget an old
    one. A StoreUnavailable, so callers degrade as they do when Redis cannot answer."""


# -- values --------------------------------------------------------------------------------------------------

# ASCII digits only: `\d` would also take other scripts' digits, which int() reads but Redis refuses.
_CURSOR = re.compile(r"([0-9]+)(?:-([0-9]+))?", re.ASCII)


@dataclass(frozen=True, order=True, slots=True)
class LogCursor:
    """A position in the decision log: an entry's id, (milliseconds, sequence), ordered oldest first.

    Its text form "<ms>-<seq>" is the entry's `log_id` in the API and the `before` a client sends back for
    the next page. The one parser of that text is `parse`; anything it refuses is a ValueError.
    """

    ms: int
    seq: int = 0

    def __post_init__(self) -> None:
        for name, part in (("ms", self.ms), ("seq", self.seq)):
            if isinstance(part, bool) or not isinstance(part, int) or not 0 <= part <= MAX_ID_PART:
                raise ValueError(f"a log position's {name} is a whole number in 0..2**64-1, got {part!r}")

    @classmethod
    def parse(cls, text: str) -> LogCursor:
        """ "<ms>-<seq>" as a cursor. A bare "<ms>" stands for the last position of that millisecond, as
        Redis reads an incomplete id in an upper bound: the review API has always accepted it as `before`.
        Raises ValueError for anything else (signs, spaces, non-ASCII digits, parts beyond 64 bits)."""
        match = _CURSOR.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"not a log position (<ms>-<seq>): {text!r}")
        ms, seq = match.group(1, 2)
        return cls(int(ms), MAX_ID_PART if seq is None else int(seq))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"

    def previous(self) -> LogCursor | None:
        """The position just before this one; None before the first possible position."""
        if self.seq > 0:
            return LogCursor(self.ms, self.seq - 1)
        if self.ms > 0:
            return LogCursor(self.ms - 1, MAX_ID_PART)
        return None


class Spill(NamedTuple):
    """What putting one comment in a capped review queue displaced: `moved` of the queue's oldest went to the
    overflow, and the overflow's oldest beyond its own cap were `lost` (their ids)."""

    moved: int = 0
    lost: tuple[str, ...] = ()


class LogEntry(NamedTuple):
    """One decision-log entry: its position and its fields."""

    id: LogCursor
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class CounterName:
    """One counter: what is counted (`dimension`, e.g. verdict) and which (`value`, e.g. reject), in one
    bucket of one period: `period` "m" counts per minute, "h" per hour; `bucket` is minutes or hours since
    the epoch."""

    period: CounterPeriod
    bucket: int
    dimension: str
    value: str

    def __post_init__(self) -> None:
        check_counter_name(self.period, self.dimension, self.value)


#: A counter to add one to, and the TTL it gets when this adds it first.
Count = tuple[CounterName, int]


@dataclass(frozen=True, slots=True)
class QueuePlace:
    """A pending review's place in the queue, as `enqueue_review` takes it, and what befalls those the full
    overflow drops: their status, if still pending_review, gets `queue=lost`, loses its `entry` and expires
    after `lost_ttl_s`; `overflowed` counters get one per comment moved to the overflow, `lost` one per drop."""

    entered_ms: int
    limit: int | None
    overflow_limit: int
    lost_ttl_s: int
    overflowed: tuple[Count, ...] = ()
    lost: tuple[Count, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordWrite:
    """One comment's record, written in one step (`DecisionStore.write_records`): nothing of it is written
    unless all of it is.

    `if_status_in` None: create the status with `status` unless it has one (then nothing is written and the
    status found comes back); else update it, only over one of those statuses. Then: `log_entry` appended to
    the log (its position goes into the status as `log_id`, and with `entry_in_status` its JSON
    `entry_json` as `entry`), the status's expiry set (`ttl_s` None: none), the comment taken out of the
    queue and its overflow (`unqueue`) or put in the queue (`queue`), and the `counts` added."""

    comment_id: str
    status: Mapping[str, str]
    ttl_s: int | None
    evictable: bool
    if_status_in: tuple[str, ...] | None = None
    log_entry: Mapping[str, str] | None = None
    log_max_len: int = 0
    log_min_ms: int = 0
    entry_json: str | None = None
    unqueue: bool = False
    queue: QueuePlace | None = None
    counts: tuple[Count, ...] = ()


class RecordResult(NamedTuple):
    """What writing one RecordWrite came to: `written`, or not with the status `found` (creating one) or
    None (updating one whose status was not among those allowed); the log position; what the queue spilled."""

    written: bool
    found: dict[str, str] | None = None
    log_id: LogCursor | None = None
    spill: Spill = Spill()


@dataclass(frozen=True, slots=True)
class DecisionWrite:
    """A moderator's decision, applied in one step (`DecisionStore.apply_decision`) over the status the
    moderator saw (`expected_status`): with `claim_review`, the comment must still be in the queue or its
    overflow (or lost from both: `queue=lost`) and is taken out of them; then `update` is set on the status,
    which expires after `ttl_s`, `log_entry` is appended and the `counts` added."""

    comment_id: str
    expected_status: str
    claim_review: bool
    update: Mapping[str, str]
    ttl_s: int
    log_entry: Mapping[str, str]
    log_max_len: int
    log_min_ms: int
    counts: tuple[Count, ...] = ()


class DecisionResult(NamedTuple):
    """`applied`; or `changed`: the status is no longer the expected one (`status` says what it is, None when
    there is none); or `taken`: another moderator claimed the comment from the queue first."""

    outcome: Literal["applied", "changed", "taken"]
    status: str | None = None
    log_id: LogCursor | None = None


def log_bounds(
    before: LogCursor | None, since_ms: int | None, until_ms: int | None
) -> tuple[LogCursor, LogCursor] | None:
    """The inclusive (oldest, newest) positions a log read covers, or None when it covers nothing.

    `before` is exclusive, `since_ms` and `until_ms` inclusive whole milliseconds; all three hold together.
    Both stores read through this, so a bound means the same in each (times before 1970 included)."""
    newest = LogCursor(MAX_ID_PART, MAX_ID_PART)
    oldest = LogCursor(0, 0)
    if before is not None:
        previous = before.previous()
        if previous is None:
            return None
        newest = min(newest, previous)
    if until_ms is not None:
        if until_ms < 0:
            return None
        newest = min(newest, LogCursor(min(until_ms, MAX_ID_PART), MAX_ID_PART))
    if since_ms is not None:
        if since_ms > MAX_ID_PART:
            return None
        oldest = LogCursor(max(since_ms, 0), 0)
    return (oldest, newest) if oldest <= newest else None


# -- checks both stores apply (keys.py applies them too, so a name is refused the same way everywhere) ----


def check_ttl(ttl_s: int) -> int:
    """Refuse TTLs Redis would refuse (`SET … EX 0` is an error), identically in every store."""
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
        raise ValueError(f"ttl_s must be a whole number of seconds >= 1, got {ttl_s!r}")
    return ttl_s


# `\s` is str.isspace()'s set; a regex rather than a loop over characters, as these run for every verdict.
_DIGEST = re.compile(r"\S+")
_COUNTER_PART = re.compile(r"[^\s:]+")


def check_digest(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ValueError(f"a verdict digest must be non-empty and free of whitespace, got {digest!r}")
    return digest


def check_comment_id(comment_id: str) -> str:
    if not isinstance(comment_id, str) or not comment_id:
        raise ValueError(f"a comment id must be a non-empty string, got {comment_id!r}")
    return comment_id


def check_fields(fields: Mapping[str, str]) -> Mapping[str, str]:
    """A log entry or status must say something: Redis refuses XADD and HSET without a field."""
    if not fields:
        raise ValueError("a log entry or a status needs at least one field")
    return fields


def check_counter_name(period: str, dimension: str, value: str) -> None:
    if period not in ("m", "h"):
        raise ValueError(f"a counter period is 'm' or 'h', got {period!r}")
    for name, part in (("dimension", dimension), ("value", value)):
        # ":" separates the parts of the counter's key; a part containing it would alias another counter.
        if not isinstance(part, str) or not _COUNTER_PART.fullmatch(part):
            raise ValueError(f"a counter {name} must be non-empty, without whitespace or ':', got {part!r}")


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


# -- the protocols -------------------------------------------------------------------------------------------


@runtime_checkable
class VerdictCache(Protocol):
    """Verdicts by digest (`service.store.keys.verdict_digest`), each for a TTL. Every async method but
    `ping` and `aclose` raises StoreUnavailable when the store cannot be reached."""

    @property
    def kind(self) -> StoreKind:
        """Which implementation this is: redis or memory (for /readyz and the startup log)."""
        ...

    async def get_verdict(self, digest: str) -> dict[str, Any] | None:
        """The cached verdict, or None on a miss (expired, never set, or unreadable)."""
        ...

    async def set_verdict(self, digest: str, verdict: dict[str, Any], ttl_s: int) -> None:
        """Cache `verdict` (JSON-serializable) for `ttl_s` whole seconds (>= 1)."""
        ...

    async def get_verdicts(self, digests: Sequence[str]) -> list[dict[str, Any] | None]:
        """`get_verdict` for many digests in one round trip, in the same order."""
        ...

    async def set_verdicts(self, verdicts: Sequence[tuple[str, dict[str, Any]]], ttl_s: int) -> None:
        """`set_verdict` for many (digest, verdict) pairs in one round trip."""
        ...

    async def ping(self) -> bool:
        """Whether the store answers right now (for /readyz). Never raises."""
        ...

    def describe(self) -> str:
        """For logs and /readyz: the Redis URL with any password masked, or "memory"."""
        ...

    async def aclose(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


@runtime_checkable
class DecisionStore(Protocol):
    """The decision log, comment statuses, the review queue and counters. Every method raises
    StoreUnavailable when the store cannot be reached. Each call is one step; several calls are not atomic
    together, which is why a comment's whole record and a moderator's whole decision are one call each
    (`write_records`, `apply_decision`)."""

    # The decision log: entries of string fields, newest last, capped by length and by age.

    async def append_log(self, fields: Mapping[str, str], *, max_len: int, min_ms: int) -> LogCursor:
        """Append an entry and return its position (later appends get later positions, even when the clock
        steps back). Entries older than `min_ms` and beyond the newest `max_len` are trimmed (the Redis
        store trims approximately, in whole blocks, as its `~` does; the memory store exactly)."""
        ...

    async def read_log(
        self,
        *,
        count: int,
        before: LogCursor | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> list[LogEntry]:
        """Up to `count` entries, newest first: older than `before` (exclusive), from `since_ms` to
        `until_ms` (inclusive, milliseconds since the epoch); `log_bounds` says what the three mean together."""
        ...

    async def log_length(self) -> int:
        """Entries in the log (0 when there is none)."""
        ...

    # Comment statuses: string fields per comment id.

    async def set_status(
        self,
        comment_id: str,
        fields: Mapping[str, str],
        *,
        ttl_s: int | None,
        evictable: bool = False,
        if_status_in: Collection[str] | None = None,
    ) -> bool:
        """Set fields of the comment's status (others are kept). `ttl_s` None keeps it until it is set
        again (a pending review); else it expires `ttl_s` from now. `evictable` says the service can afford
        to lose it before then: a store that must bound its memory drops those first, and only those.

        With `if_status_in`, only when the stored `status` field is one of those (a missing status is none
        of them), tested and set in one step. Returns whether it was set."""
        ...

    async def claim_status(
        self, comment_id: str, fields: Mapping[str, str], *, ttl_s: int | None, evictable: bool = False
    ) -> dict[str, str] | None:
        """Create the comment's status with `fields` (`ttl_s` and `evictable` as for `set_status`) unless it
        has one (an expired one counts as none), in one step: of concurrent claimers exactly one creates it.
        Returns None when it was created here, else the status found, untouched."""
        ...

    async def get_status(self, comment_id: str) -> dict[str, str] | None:
        """All fields of the comment's status, or None when there is none (never set, or expired)."""
        ...

    async def get_statuses(self, comment_ids: Sequence[str]) -> list[dict[str, str] | None]:
        """`get_status` for many comments in one round trip."""
        ...

    # The review queue: comment ids waiting for a moderator, oldest first, and its overflow: where the
    # queue's oldest go when it is full, themselves capped (what falls out of the overflow is counted).

    async def enqueue_review(
        self, comment_id: str, entered_ms: int, *, limit: int | None = None, overflow_limit: int = 0
    ) -> Spill:
        """Put the comment in the queue at `entered_ms` (again: moves it there, out of the overflow too).
        With `limit`, the queue's oldest beyond it move to the overflow, and the overflow's oldest beyond
        `overflow_limit` leave it, counted in `review_lost`; all in one step. Returns what moved and what
        was lost."""
        ...

    async def claim_review(self, comment_id: str) -> bool:
        """Take the comment out of the queue or the overflow; True for exactly one of concurrent callers,
        False when it was in neither."""
        ...

    async def review_page(self, offset: int, count: int, *, overflow: bool = False) -> list[str]:
        """`count` comment ids from `offset`, oldest first, of the queue (or of the overflow)."""
        ...

    async def review_count(self, *, overflow: bool = False) -> int:
        """Comments in the queue (or in the overflow)."""
        ...

    async def review_lost(self) -> int:
        """Comments that fell out of the overflow, ever (0 when none did)."""
        ...

    # Counters.

    async def add_counts(self, counters: Sequence[CounterName], ttl_s: int) -> None:
        """Add one to each counter (twice for a name given twice); each expires `ttl_s` after it was created."""
        ...

    async def read_counts(self, counters: Sequence[CounterName]) -> list[int]:
        """Each counter's value, 0 for one that is missing or expired."""
        ...

    # Whole records and decisions, each in one step (see RecordWrite and DecisionWrite).

    async def write_records(self, writes: Sequence[RecordWrite]) -> list[RecordResult]:
        """Write each record in one step of its own (all of it or nothing of it), the batch in one round trip;
        one result per write. On StoreUnavailable any of them may have been written, each whole or not at
        all."""
        ...

    async def apply_decision(self, decision: DecisionWrite) -> DecisionResult:
        """Apply a moderator's decision in one step: all of it, or (not `applied`) nothing."""
        ...


# -- moderators' sessions (login hardening, issue 10) --------------------------------------------------------


def check_session_key(key: str) -> str:
    """A session's key is the digest the login makes of the cookie's session id: non-empty, no whitespace."""
    if not isinstance(key, str) or not _DIGEST.fullmatch(key):
        raise ValueError(f"a session key must be non-empty and free of whitespace, got {key!r}")
    return key


def check_user(user: str) -> str:
    if not isinstance(user, str) or not user:
        raise ValueError(f"a user name must be a non-empty string, got {user!r}")
    return user


@runtime_checkable
class SessionStore(Protocol):
    """Moderators' sessions by key, each for a TTL, and each user's session epoch: logging out everywhere
    raises the epoch, and a session is only good while it carries the current one. One counter per user
    instead of a list of the user's sessions, so that "log out everywhere" is one atomic step that a login
    racing it cannot slip past. Every method raises StoreUnavailable when the store cannot be reached."""

    async def put_session(self, key: str, fields: Mapping[str, str], ttl_s: int) -> None:
        """Store a session's fields for `ttl_s` whole seconds (>= 1), replacing any under the same key."""
        ...

    async def get_session(self, key: str) -> dict[str, str] | None:
        """The session's fields, or None when there is none (never stored, ended or expired)."""
        ...

    async def delete_session(self, key: str) -> None:
        """End one session at once (nothing happens when there is none)."""
        ...

    async def session_epoch(self, user: str) -> int:
        """The user's current session epoch (0 before the first "log out everywhere")."""
        ...

    async def next_session_epoch(self, user: str) -> int:
        """Raise the user's session epoch by one and return it: every session stored before ends."""
        ...


# -- API keys per site (issue 13) ----------------------------------------------------------------------------

#: The stored format of key ids: they become part of a Redis key, so no whitespace and no ':'.
_API_KEY_ID = re.compile(r"[^\s:]+")


def check_api_key_id(key_id: str) -> str:
    if not isinstance(key_id, str) or not _API_KEY_ID.fullmatch(key_id):
        raise ValueError(f"an API key id must be non-empty, without whitespace or ':', got {key_id!r}")
    return key_id


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """One site's API key as stored: its id (public, part of the key), the site it speaks for, and the SHA-256
    (hex) of the whole key. Never the key itself: a copy of the store lets nobody call the service."""

    id: str
    site: str
    digest: str
    created_ms: int
    revoked_ms: int | None = None
    origins: tuple[str, ...] = ()
    """The web origins whose pages may call the widget's endpoints with this key (CORS, issue 14), each as a
    browser writes it in an Origin header (config.web_origin); none: only MODERATION_CORS_ORIGINS'."""

    def __post_init__(self) -> None:
        check_api_key_id(self.id)
        if not self.site or not self.digest:
            raise ValueError("an API key record needs its site and its digest")
        for origin in self.origins:
            if not isinstance(origin, str) or web_origin(origin) != origin:
                raise ValueError(f"an API key's origin is written scheme://host[:port], got {origin!r}")

    @property
    def revoked(self) -> bool:
        return self.revoked_ms is not None

    def fields(self) -> dict[str, str]:
        """The record as flat string fields (a Redis hash; the key file writes the same names)."""
        return {
            "site": self.site,
            "sha256": self.digest,
            "created_ms": str(self.created_ms),
            "revoked_ms": "" if self.revoked_ms is None else str(self.revoked_ms),
            # Only where there are some: a key made before origins existed reads the same as one without.
            **({"origins": " ".join(self.origins)} if self.origins else {}),
        }

    @classmethod
    def from_fields(cls, key_id: str, fields: Mapping[str, str]) -> ApiKeyRecord:
        """The record `fields` (as `fields()` wrote them) describe; ValueError when they do not."""
        revoked = fields.get("revoked_ms") or ""
        return cls(
            id=key_id,
            site=fields.get("site", ""),
            digest=fields.get("sha256", ""),
            created_ms=int(fields.get("created_ms") or 0),
            revoked_ms=int(revoked) if revoked else None,
            origins=tuple((fields.get("origins") or "").split()),
        )


@runtime_checkable
class ApiKeyStore(Protocol):
    """The sites' API keys by id, kept until deleted by hand (a revoked key stays listed, revoked). Every async
    method but `aclose` raises StoreUnavailable when the store cannot be reached or read."""

    async def add_api_key(self, record: ApiKeyRecord) -> bool:
        """Store a new key's record in one step; False, and nothing written, when its id is already taken."""
        ...

    async def get_api_key(self, key_id: str) -> ApiKeyRecord | None:
        """The key's record as stored now (no cache: a revocation shows at once), or None for an unknown id."""
        ...

    async def list_api_keys(self) -> list[ApiKeyRecord]:
        """Every key's record, oldest first, the revoked ones included."""
        ...

    async def revoke_api_key(self, key_id: str, at_ms: int) -> ApiKeyRecord | None:
        """Mark the key revoked at `at_ms` (a key revoked before keeps its first time), in one step; the record
        as it is afterwards, or None for an unknown id."""
        ...

    def describe(self) -> str:
        """Where the keys are, for the CLI and logs: the Redis URL with any password masked, a file, memory."""
        ...

    async def aclose(self) -> None: ...


# -- all in one -------------------------------------------------------------------------------------------------


@runtime_checkable
class Store(VerdictCache, DecisionStore, SessionStore, ApiKeyStore, Protocol):
    """The protocols in one object: one connection (or one process's memory) serves the cache, the log, the
    sessions and the sites' API keys."""
