"""The decision log, the review queue and every comment's status: what moderators read and decide.

    record(comments, verdicts)     the pipeline's step 6: per verdict, counters (per minute and per hour, by
                                   verdict, clause and cache hit); for review and reject a full entry in the
                                   log; for review a place in the queue; for every comment its status
    decide(id, approve|reject)     a moderator clears a pending review
    overturn(id)                   a moderator reverses a final status (accepted <-> rejected)
    status(id)                     what the site asks before publishing
    entries(...) / queue(...) / statuses(...) / counts(...)
                                   what the dashboard reads (LogReader, service/review/queries.py)

Statuses: accepted and rejected (the service decided), pending_review (waiting for a moderator), approved
and rejected_by_moderator (a moderator decided, by review or overturn). Acceptances are counted and get a
status but no log entry: the log is for what a moderator may need to read, and accepts are most traffic.
Pending reviews never expire and moderators' decisions are never dropped early; the service's own accepts
and rejects may be (a memory store bounds them), as they can be judged again.

Every store call may raise StoreUnavailable; the pipeline catches it around `record` (a verdict is never
lost to Redis trouble), the review API turns it into a 503. No web framework here.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from service.moderation.types import Comment, Verdict
from service.review.models import (
    HOURS_SHOWN,
    MINUTES_SHOWN,
    PUBLISH,
    CommentNotFound,
    CommentStatus,
    DecisionConflict,
    ModeratorAction,
    Status,
    comment_status,
    entry_json,
    known_status,
    moderator_entry,
    verdict_entry,
    verdict_status,
)
from service.review.queries import LogReader
from service.store.base import CounterName, DecisionStore, LogCursor

log = logging.getLogger(__name__)

# Counters live a little longer than the dashboard looks back, so a chart never shows a bucket half-expired.
_MINUTE_COUNTER_TTL_S = 2 * MINUTES_SHOWN * 60
_HOUR_COUNTER_TTL_S = 2 * HOURS_SHOWN * 3600


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
    ) -> None:
        """`on_final` receives each moderator's final decision as the webhook payload (it must not block)."""
        super().__init__(store, clock=clock)
        self.max_entries = max_entries
        self.retention_s = retention_s
        self.on_final = on_final

    async def _append(self, entry: dict[str, str], now_ms: int) -> LogCursor:
        return await self.store.append_log(
            entry, max_len=self.max_entries, min_ms=now_ms - self.retention_s * 1000
        )

    # -- recording (pipeline step 6) ---------------------------------------------------------------------

    async def record(self, comments: Sequence[Comment], verdicts: Sequence[Verdict]) -> None:
        now_ms = self._now_ms()
        counted: list[tuple[str, str]] = []
        for verdict in verdicts:
            counted.append(("verdict", verdict.verdict))
            counted.append(("cache", "hit" if verdict.cached else "miss"))
            counted.extend(("clause", c) for c in sorted({r.clause for r in verdict.reasons if r.clause}))
        await self._count(counted, now_ms)
        for comment, verdict in zip(comments, verdicts, strict=True):
            await self._record_one(comment, verdict, now_ms)

    async def _record_one(self, comment: Comment, verdict: Verdict, now_ms: int) -> None:
        fields = verdict_status(comment, verdict, now_ms)
        pending = fields["status"] == "pending_review"
        if verdict.verdict != "accept":
            entry = verdict_entry(comment, verdict, now_ms)
            fields["log_id"] = str(await self._append(entry, now_ms))
            if pending:
                # The queue shows the comment from its status, which outlives the log's trimming.
                fields["entry"] = entry_json(entry)
        # Pending reviews don't expire: a comment must not vanish from the queue before anyone decided it.
        # The service's own accepts and rejects may go early where memory is bounded: they can be judged again.
        await self.store.set_status(
            verdict.id, fields, ttl_s=None if pending else self.retention_s, evictable=not pending
        )
        if pending:
            await self.store.enqueue_review(verdict.id, now_ms)

    async def _count(self, counted: Sequence[tuple[str, str]], now_ms: int) -> None:
        minute, hour = now_ms // 60_000, now_ms // 3_600_000
        await self.store.add_counts(
            [CounterName("m", minute, d, v) for d, v in counted], _MINUTE_COUNTER_TTL_S
        )
        await self.store.add_counts([CounterName("h", hour, d, v) for d, v in counted], _HOUR_COUNTER_TTL_S)

    # -- the site's question -------------------------------------------------------------------------------

    async def status(self, comment_id: str) -> CommentStatus:
        fields = await self.store.get_status(comment_id)
        if fields is None or known_status(fields) is None:
            raise CommentNotFound(comment_id)
        return comment_status(comment_id, fields)

    # -- moderators' decisions -----------------------------------------------------------------------------

    async def decide(
        self, comment_id: str, decision: ModeratorAction, moderator: str, note: str = ""
    ) -> CommentStatus:
        """Clear a pending review. Of two moderators deciding the same comment at once, exactly one wins."""
        claimed = await self.store.claim_review(comment_id)
        fields = await self.store.get_status(comment_id)
        current = known_status(fields)
        if fields is None or current is None:
            raise CommentNotFound(comment_id)
        if current != "pending_review":
            raise DecisionConflict(current, f"Comment {comment_id} is not pending review (it is {current}).")
        if not claimed:
            raise DecisionConflict(current, f"Another moderator is deciding comment {comment_id}.")
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
        entry = moderator_entry(
            comment_id, fields, new, action, moderator, note, overturn=overturn, at_ms=now_ms
        )
        await self._append(entry, now_ms)
        update = {"status": new, "updated_ms": str(now_ms), "decided_by": moderator, "note": note}
        # A moderator's decision is kept for the whole retention, wherever memory is bounded.
        await self.store.set_status(comment_id, update, ttl_s=self.retention_s, evictable=False)
        counted = [("decision", action)] + ([("decision", "overturn")] if overturn else [])
        await self._count(counted, now_ms)
        result = comment_status(comment_id, {**fields, **update})
        if self.on_final is not None:
            self.on_final(
                {
                    "event": "comment.decided",
                    "delivery_id": uuid.uuid4().hex,
                    "comment_id": comment_id,
                    "article_id": fields.get("article_id") or None,
                    "status": new,
                    "publish": PUBLISH[new],
                    "previous_status": fields["status"],
                    "overturn": overturn,
                    "decided_by": moderator,
                    "decided_at": result.updated_at.isoformat().replace("+00:00", "Z"),
                }
            )
        return result
