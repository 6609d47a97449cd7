"""The decision log, the review queue and every comment's status: what moderators read and decide.

    prepare(comments, verdicts)    step 6 decided without I/O: a PendingRecord per comment (record id,
                                   status token, time), which an outage journal can keep
    write(records)                 those records written, idempotently on their record ids
    record(comments, verdicts)     write(prepare(...)): the pipeline's step 6: for every comment its
                                   status, created once (the first writer's); then per verdict recorded,
                                   counters (per minute and per hour, by verdict, clause and cache hit);
                                   for review and reject an entry in the log; for review a place in the queue
    count(verdicts)                step 6 for comments sent with "do not store": the same counters, and
                                   nothing else (no status, no log entry, no queue: nothing of the text)
    rerecord(comments, verdicts)   rescoring's (trusted): new verdicts over the service's own statuses only
    decide(id, approve|reject)     a moderator clears a pending review (an appeal too)
    appeal(id, token, explanation) the commenter contests a rejection: back in the queue, as an appeal
    statement(id, token)           the statement of reasons of a rejected or withheld comment (statement.py)
    overturn(id)                   a moderator reverses a final status (accepted <-> rejected)
    public_status(id, token)       what the site asks before publishing (with the comment's status token)
    status(id)                     the same for trusted callers, without a token
    entries(...) / queue(...) / statuses(...) / counts(...)
                                   what the dashboard reads (LogReader, service/review/queries.py)

Statuses: accepted and rejected (the service decided), pending_review (waiting for a moderator), approved
and rejected_by_moderator (a moderator decided, by review or overturn). Acceptances are counted and get a
status but no log entry: the log is for what a moderator may need to read, and accepts are most traffic.
Pending reviews don't expire while they wait in the queue or its overflow, and moderators' decisions are
never dropped early; the service's own accepts and rejects may be (a memory store bounds them), as they can
be judged again.

A status belongs to its first writer. `write` creates it and never writes over one: a repeat of the same text
gets the verdict recorded first, another text under the same id is a conflict (the API answers 409). Every
later change is conditional on the status read before it, so a moderator's decision is never overwritten: not
by the API, not by a rescoring run, not by another moderator deciding at the same moment.

One step each (issue 12): a comment's whole record (status, log entry, queue place with what the full queue
spills, counters) is one store step (`write_records`: a Lua script per record in Redis, the batch's scripts
in one round trip), and so is a moderator's decision (`apply_decision`: queue claim, status test and update,
log entry, counters). No failure between two writes can leave a pending_review status outside the queue, or a
decided comment without its log entry: a record or a decision is written whole or not at all.

Bounds: a log entry keeps the first `max_text_chars` characters of the text; the review queue holds
`queue_limit` comments, its oldest moving to the overflow, which holds `overflow_limit`; those that fall out
of it are counted (`overflow_lost`, and the dashboard's "queue lost" counter), stay pending_review (never
published) and now expire with the retention.

Every store call may raise StoreUnavailable; the pipeline catches it around `record` (a verdict is never
lost to Redis trouble), the review API turns it into a 503. No web framework here.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from service.moderation.types import Comment, Verdict
from service.review.models import (
    HOURS_SHOWN,
    MINUTES_SHOWN,
    PUBLISH,
    SERVICE_STATUSES,
    AppealRefused,
    CommentNotFound,
    CommentStatus,
    DecisionConflict,
    LogRecord,
    ModeratorAction,
    PendingRecord,
    Recorded,
    Status,
    appeal_digest,
    appeal_entry,
    appeal_pending,
    check_appealable,
    comment_status,
    entry_json,
    first_writer_status,
    known_status,
    moderator_entry,
    parse_record,
    stored_verdict,
    text_digest,
    verdict_entry,
    verdict_status,
)
from service.review.queries import LogReader
from service.review.statement import Statement, export_statements, statement
from service.store.base import (
    MAX_ID_PART,
    Count,
    CounterName,
    DecisionStore,
    DecisionWrite,
    LogCursor,
    QueuePlace,
    RecordWrite,
    Spill,
)

log = logging.getLogger(__name__)

# Counters live a little longer than the dashboard looks back, so a chart never shows a bucket half-expired.
_MINUTE_COUNTER_TTL_S = 2 * MINUTES_SHOWN * 60
_HOUR_COUNTER_TTL_S = 2 * HOURS_SHOWN * 3600

#: Random bytes in a status token: 128 bits, beyond guessing at any rate an API answers.
STATUS_TOKEN_BYTES = 16
# Compared against when a comment has no status (or no token), so that the comparison costs the same.
_NO_TOKEN = secrets.token_urlsafe(STATUS_TOKEN_BYTES).encode("ascii")
_NO_APPEAL = secrets.token_urlsafe(STATUS_TOKEN_BYTES)


class DecisionLog(LogReader):
    """The log's writes (the pipeline's record, the moderator state machine) over its reads (LogReader)."""

    def __init__(
        self,
        store: DecisionStore,
        *,
        max_entries: int,
        retention_s: int,
        clock: Callable[[], float] = time.time,
        on_final: Callable[[dict[str, Any]], object] | None = None,
        max_text_chars: int | None = None,
        queue_limit: int | None = None,
        overflow_limit: int = 0,
    ) -> None:
        """`on_final` receives each moderator's final decision as the webhook payload (it must not block).
        `max_text_chars` bounds a log entry's text, `queue_limit` the review queue and `overflow_limit` its
        overflow (None: unbounded, as in tests that don't care)."""
        super().__init__(store, clock=clock)
        self.max_entries = max_entries
        self.retention_s = retention_s
        self.on_final = on_final
        self.max_text_chars = max_text_chars
        self.queue_limit = queue_limit
        self.overflow_limit = overflow_limit

    # -- recording (pipeline step 6) ---------------------------------------------------------------------

    def prepare(self, comments: Sequence[Comment], verdicts: Sequence[Verdict]) -> list[PendingRecord]:
        """Everything `write` needs, decided now and without I/O: each record's id, its comment's new status
        token (the verdict answered carries it), and the time. The comments' ids must be their verdicts'."""
        now_ms = self._now_ms()
        return [
            PendingRecord(
                record_id=uuid.uuid4().hex,
                comment=comment,
                verdict=verdict.model_copy(
                    update={
                        "status_token": secrets.token_urlsafe(STATUS_TOKEN_BYTES),
                        # A reject or a review can be contested (issue 14). The status keeps the appeal token
                        # as it keeps the status token, so that a client's retry gets both back.
                        "appeal_token": secrets.token_urlsafe(STATUS_TOKEN_BYTES)
                        if verdict.verdict != "accept"
                        else None,
                    }
                ),
                at_ms=now_ms,
            )
            for comment, verdict in zip(comments, verdicts, strict=True)
        ]

    async def write(self, records: Sequence[PendingRecord]) -> list[Recorded]:
        """Write prepared records, one outcome per record: each comment's status is created here, once
        (`created`, the verdict with its token); under an id that already has a status nothing is written,
        and the outcome is `repeated` with the verdict recorded first for the same text, else a `conflict`.
        Idempotent on the record id: a record already written (its id is on the status) writes nothing
        again and is `created` as the first time, so a replay of the same records is harmless.

        Each record (status, log entry, queue place, counters) is one step in the store, the batch one round
        trip: on StoreUnavailable each record was written whole or not at all."""
        writes = []
        for record in records:
            comment, verdict = record.comment, record.verdict
            fields = {
                **first_writer_status(comment, verdict, record.at_ms, verdict.status_token or ""),
                "record_id": record.record_id,
            }
            if verdict.appeal_token:
                fields["appeal_token"] = verdict.appeal_token
            writes.append(self._record_write(comment, verdict, fields, record.at_ms, if_status_in=None))
        results = await self.store.write_records(writes)
        outcomes = []
        for record, result in zip(records, results, strict=True):
            self._spilled(result.spill)
            if result.written:
                outcomes.append(Recorded("created", record.verdict))
            else:
                outcomes.append(self._found(record, result.found or {}))
        return outcomes

    async def record(self, comments: Sequence[Comment], verdicts: Sequence[Verdict]) -> list[Recorded]:
        """Record the service's verdicts: `write(prepare(comments, verdicts))`."""
        return await self.write(self.prepare(comments, verdicts))

    async def count(self, verdicts: Sequence[Verdict]) -> None:
        """Count verdicts whose comments must leave nothing behind (Perspective's doNotStore): the counters
        `record` adds (verdict, cache hit or miss, clauses), which hold no text, and nothing else."""
        await self._count(_verdict_counts(verdicts), self._now_ms())

    async def rerecord(self, comments: Sequence[Comment], verdicts: Sequence[Verdict]) -> int:
        """Record new verdicts for comments already judged (rescoring's `--apply`: trusted, internal). Only
        over a status the service gave (accepted, rejected, pending_review), tested and written in one step
        with the log entry, queue place and counters: never over a moderator's decision nor an appeal
        waiting for one, and not for a comment whose status has expired. The text digest and the tokens stay
        the first writer's. Returns how many were recorded."""
        now_ms = self._now_ms()
        # An appeal waits for a person (issue 14): a rescoring run must not settle it.
        current = await self.store.get_statuses([v.id for v in verdicts]) if verdicts else []
        writes = [
            self._record_write(c, v, verdict_status(c, v, now_ms), now_ms, if_status_in=SERVICE_STATUSES)
            for c, v, found in zip(comments, verdicts, current, strict=True)
            if not appeal_pending(found or {})
        ]
        if not writes:
            return 0
        results = await self.store.write_records(writes)
        for result in results:
            self._spilled(result.spill)
        return sum(1 for r in results if r.written)

    def _record_write(
        self,
        comment: Comment,
        verdict: Verdict,
        fields: dict[str, str],
        at_ms: int,
        *,
        if_status_in: tuple[str, ...] | None,
    ) -> RecordWrite:
        """One comment's record as the store writes it in one step: the status (created, or updated over
        `if_status_in`), for review and reject the log entry, for review the queue, and the counters."""
        # Pending reviews don't expire: a comment must not vanish from the queue before anyone decided it.
        # The service's own accepts and rejects may go early where memory is bounded: they can be judged again.
        pending = verdict.verdict == "review"
        entry = (
            verdict_entry(comment, verdict, at_ms, max_text_chars=self.max_text_chars)
            if verdict.verdict != "accept"
            else None
        )
        return RecordWrite(
            comment_id=verdict.id,
            status=fields,
            ttl_s=None if pending else self.retention_s,
            evictable=not pending,
            if_status_in=if_status_in,
            log_entry=entry,
            log_max_len=self.max_entries,
            log_min_ms=at_ms - self.retention_s * 1000,
            # The queue shows the comment from its status, which outlives the log's trimming.
            entry_json=entry_json(entry) if pending and entry is not None else None,
            # A rescored comment no longer waiting for a moderator leaves the queue.
            unqueue=not pending and if_status_in is not None,
            queue=QueuePlace(
                entered_ms=at_ms,
                limit=self.queue_limit,
                overflow_limit=self.overflow_limit,
                lost_ttl_s=self.retention_s,
                overflowed=_counts([("queue", "overflowed")], at_ms),
                lost=_counts([("queue", "lost")], at_ms),
            )
            if pending
            else None,
            counts=_counts(_verdict_counts([verdict]), at_ms),
        )

    def _found(self, record: PendingRecord, found: dict[str, str]) -> Recorded:
        """The outcome of a record whose comment already had a status (`found`)."""
        comment, verdict = record.comment, record.verdict
        if found.get("record_id") == record.record_id:
            # Written before (a replay): the outcome the first write had, with the same token.
            return Recorded("created", verdict)
        # As bytes: compare_digest refuses str with non-ASCII characters, and a stored field could hold some.
        same_text = hmac.compare_digest(
            found.get("text_digest", "").encode("utf-8", "surrogatepass"),
            text_digest(comment.text).encode("ascii"),
        )
        stored = stored_verdict(found) if same_text else None
        if stored is None:
            # Not this comment's status: the token prepared for it opens nothing, so it is not handed out.
            return Recorded("conflict", verdict.model_copy(update={"status_token": None}))
        return Recorded("repeated", stored.model_copy(update={"id": verdict.id}))

    def _spilled(self, spill: Spill) -> None:
        """Say what fell out of the full overflow (the store counted it and let it expire)."""
        if spill.lost:
            log.warning(
                "review overflow full: %d pending review(s) lost to review (oldest first), e.g. %s",
                len(spill.lost),
                spill.lost[0],
            )

    async def _count(self, counted: Sequence[tuple[str, str]], now_ms: int) -> None:
        minute, hour = now_ms // 60_000, now_ms // 3_600_000
        await self.store.add_counts(
            [CounterName("m", minute, d, v) for d, v in counted], _MINUTE_COUNTER_TTL_S
        )
        await self.store.add_counts([CounterName("h", hour, d, v) for d, v in counted], _HOUR_COUNTER_TTL_S)

    # -- the site's question -------------------------------------------------------------------------------

    async def status(self, comment_id: str) -> CommentStatus:
        """The comment's status, for trusted callers (moderators, rescoring, tests)."""
        fields = await self.store.get_status(comment_id)
        if fields is None or known_status(fields) is None:
            raise CommentNotFound(comment_id)
        return comment_status(comment_id, fields)

    async def public_status(self, comment_id: str, token: str) -> CommentStatus:
        """The comment's status for whoever holds its status token. A wrong token is CommentNotFound, as an
        unknown id is, and costs the same, so that neither answer tells whether the id exists."""
        fields = await self.store.get_status(comment_id)
        stored = (fields or {}).get("status_token", "")
        # As bytes: compare_digest refuses str with non-ASCII characters, which a header or query may carry.
        given = token.encode("utf-8", "surrogatepass")
        matches = hmac.compare_digest(given, stored.encode("utf-8") if stored else _NO_TOKEN)
        if not (matches and stored) or fields is None or known_status(fields) is None:
            raise CommentNotFound(comment_id)
        return comment_status(comment_id, fields)

    # -- the commenter's appeal (issue 14) -------------------------------------------------------------------

    async def appeal(self, comment_id: str, token: str, explanation: str, *, window_s: int) -> CommentStatus:
        """Put a rejected comment back in the review queue, marked as an appeal with the commenter's
        `explanation`, for whoever holds its appeal token: once per comment, within `window_s` of the decision
        (AppealRefused otherwise). A wrong token is CommentNotFound, as an unknown id is, and costs the same.
        The appeal waits, without expiring, for a moderator's `decide`; its text comes from the verdict's log
        entry (without it, when the log has trimmed that, from the verdict the status keeps)."""
        fields = await self._appeal_status(comment_id, token)
        now_ms = self._now_ms()
        current = check_appealable(comment_id, fields, now_ms, window_s)
        entry = appeal_entry(comment_id, fields, await self._logged(fields), explanation, now_ms)
        update = {
            "status": "pending_review",
            "updated_ms": str(now_ms),
            "appealed_ms": str(now_ms),
            "appeal_explanation": explanation,
            "appeal_of_ms": fields.get("updated_ms", "0"),
            "entry": entry_json(entry),
        }
        # One step, on the status read above only: of two appeals at once (or an appeal and an overturn) one
        # wins, and the appeal is in the queue (or its overflow) exactly when its status says pending_review.
        (result,) = await self.store.write_records(
            [
                RecordWrite(
                    comment_id=comment_id,
                    status=update,
                    ttl_s=None,
                    evictable=False,
                    if_status_in=(current,),
                    queue=QueuePlace(
                        entered_ms=now_ms,
                        limit=self.queue_limit,
                        overflow_limit=self.overflow_limit,
                        lost_ttl_s=self.retention_s,
                        overflowed=_counts([("queue", "overflowed")], now_ms),
                        lost=_counts([("queue", "lost")], now_ms),
                    ),
                )
            ]
        )
        if not result.written:
            raise AppealRefused("status_changed", f"Comment {comment_id} changed meanwhile; ask again.")
        self._spilled(result.spill)
        return comment_status(comment_id, {**fields, **update})

    async def statement(self, comment_id: str, token: str, *, window_s: int) -> Statement:
        """The statement of reasons for whoever holds the comment's appeal token (CommentNotFound as for
        `appeal`); NoStatement when the comment is published."""
        fields = await self._appeal_status(comment_id, token)
        return statement(comment_id, fields, now_ms=self._now_ms(), window_s=window_s)

    def statements(
        self, *, since_ms: int | None, until_ms: int | None, limit: int, window_s: int
    ) -> AsyncIterator[Statement]:
        """The statements of the comments logged from `since_ms` to `until_ms`, newest first, at most `limit`
        (statement.py's `export_statements`), as of now."""
        return export_statements(
            self, since_ms=since_ms, until_ms=until_ms, limit=limit, now_ms=self._now_ms(), window_s=window_s
        )

    async def _appeal_status(self, comment_id: str, token: str) -> dict[str, str]:
        """The comment's status fields when `token` is its appeal token; else CommentNotFound, at the same
        cost for an unknown id, a comment without a token and a wrong token."""
        fields = await self.store.get_status(comment_id)
        stored = (fields or {}).get("appeal_token", "")
        # Digests of both, compared in constant time: the same work whatever the token's length or characters,
        # and whether the comment has a token at all (a random one stands in for a missing one).
        given = appeal_digest(token).encode("ascii")
        matches = hmac.compare_digest(given, appeal_digest(stored or _NO_APPEAL).encode("ascii"))
        if not (matches and stored) or fields is None or known_status(fields) is None:
            raise CommentNotFound(comment_id)
        return fields

    async def _logged(self, fields: dict[str, str]) -> dict[str, str] | None:
        """The log entry a status points at (`log_id`), or None when there is none (or no longer)."""
        try:
            position = LogCursor.parse(fields.get("log_id", ""))
        except ValueError:
            return None
        after = LogCursor(position.ms, position.seq + 1) if position.seq < MAX_ID_PART else None
        rows = await self.store.read_log(count=1, before=after, since_ms=position.ms)
        return rows[0].fields if rows and rows[0].id == position else None

    async def logged_verdict(self, comment_id: str) -> LogRecord | None:
        """The verdict entry a comment's status points at, or None (unknown comment, entry gone)."""
        fields = await self.store.get_status(comment_id)
        entry = await self._logged(fields) if fields else None
        if fields is None or entry is None or entry.get("kind") != "verdict":
            return None
        return parse_record(fields.get("log_id", ""), entry)

    async def record_rules_change(
        self, moderator: str, term: str, file_name: str, comment_id: str = ""
    ) -> LogCursor:
        """A moderator taught the word list (issue 11, item 7): who added which term to which file, and the
        comment that prompted it. A log entry of its own kind ("rules"), which the verdict pages skip."""
        now_ms = int(self._clock() * 1000)
        entry = {
            "kind": "rules",
            "comment_id": comment_id,
            "action": "add_term",
            "moderator": moderator,
            "term": term,
            "file": file_name,
            "at_ms": str(now_ms),
        }
        return await self.store.append_log(
            entry, max_len=self.max_entries, min_ms=now_ms - self.retention_s * 1000
        )

    # -- moderators' decisions -----------------------------------------------------------------------------

    async def decide(
        self, comment_id: str, decision: ModeratorAction, moderator: str, note: str = ""
    ) -> CommentStatus:
        """Clear a pending review (in the queue, in its overflow, or lost from both). Of two moderators deciding
        the same comment at once, exactly one wins."""
        fields = await self.store.get_status(comment_id)
        current = known_status(fields)
        if fields is None or current is None:
            raise CommentNotFound(comment_id)
        if current != "pending_review":
            raise DecisionConflict(current, f"Comment {comment_id} is not pending review (it is {current}).")
        new: Status = "approved" if decision == "approve" else "rejected_by_moderator"
        return await self._apply(comment_id, fields, new, decision, moderator, note, overturn=False)

    async def overturn(self, comment_id: str, moderator: str, note: str = "") -> CommentStatus:
        """Reverse a final status: what is published gets hidden, what is hidden gets published."""
        fields = await self.store.get_status(comment_id)
        current = known_status(fields)
        if fields is None or current is None:
            raise CommentNotFound(comment_id)
        if current == "pending_review":
            raise DecisionConflict(
                current, f"Comment {comment_id} is pending review; decide it in the review queue."
            )
        publish = PUBLISH[current]
        new: Status = "rejected_by_moderator" if publish else "approved"
        action: ModeratorAction = "reject" if publish else "approve"
        return await self._apply(comment_id, fields, new, action, moderator, note, overturn=True)

    async def _apply(
        self,
        comment_id: str,
        fields: dict[str, str],
        new: Status,
        action: ModeratorAction,
        moderator: str,
        note: str,
        *,
        overturn: bool,
    ) -> CommentStatus:
        now_ms = self._now_ms()
        update = {"status": new, "updated_ms": str(now_ms), "decided_by": moderator, "note": note}
        entry = moderator_entry(
            comment_id, fields, new, action, moderator, note, overturn=overturn, at_ms=now_ms
        )
        counted = [("decision", action)] + ([("decision", "overturn")] if overturn else [])
        # A moderator's decision is kept for the whole retention, wherever memory is bounded. It is made on
        # the status the moderator saw: if that changed meanwhile (another moderator, a rescoring run),
        # nothing is written and the moderator looks again. Status, queue, log entry and counters change
        # in one step: no failure leaves a decided comment unlogged or a pending one out of the queue.
        applied = await self.store.apply_decision(
            DecisionWrite(
                comment_id=comment_id,
                expected_status=fields["status"],
                claim_review=not overturn,
                update=update,
                ttl_s=self.retention_s,
                log_entry=entry,
                log_max_len=self.max_entries,
                log_min_ms=now_ms - self.retention_s * 1000,
                counts=_counts(counted, now_ms),
            )
        )
        if applied.outcome == "taken":
            raise DecisionConflict(fields["status"], f"Another moderator is deciding comment {comment_id}.")
        if applied.outcome == "changed":
            latest = applied.status or "unknown"
            raise DecisionConflict(
                latest, f"Comment {comment_id} changed while it was being decided (it is {latest})."
            )
        result = comment_status(comment_id, {**fields, **update})
        if self.on_final is not None:
            self.on_final(
                {
                    "event": "comment.decided",
                    "delivery_id": uuid.uuid4().hex,
                    "comment_id": comment_id,
                    "article_id": fields.get("article_id") or None,
                    "site": fields.get("site") or None,
                    "status": new,
                    "publish": PUBLISH[new],
                    "previous_status": fields["status"],
                    "overturn": overturn,
                    "decided_by": moderator,
                    "decided_at": result.updated_at.isoformat().replace("+00:00", "Z"),
                    "appeal": appeal_pending(fields),
                }
            )
        return result


def _counts(counted: Sequence[tuple[str, str]], at_ms: int) -> tuple[Count, ...]:
    """Each (dimension, value) as its minute's and its hour's counter, with their TTLs."""
    minute, hour = at_ms // 60_000, at_ms // 3_600_000
    return tuple(
        [(CounterName("m", minute, d, v), _MINUTE_COUNTER_TTL_S) for d, v in counted]
        + [(CounterName("h", hour, d, v), _HOUR_COUNTER_TTL_S) for d, v in counted]
    )


def _verdict_counts(verdicts: Sequence[Verdict]) -> list[tuple[str, str]]:
    """What the dashboard counts of recorded verdicts: each verdict, its cache hit or miss, its clauses."""
    counted: list[tuple[str, str]] = []
    for verdict in verdicts:
        counted.append(("verdict", verdict.verdict))
        counted.append(("cache", "hit" if verdict.cached else "miss"))
        counted.extend(("clause", c) for c in sorted({r.clause for r in verdict.reasons if r.clause}))
    return counted
