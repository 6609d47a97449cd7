"""The decision log, the review queue and every comment's status: what moderators read and decide.

    record(comments, verdicts)     the pipeline's step 6: per verdict, counters (per minute and per hour, by
                                   verdict, clause and cache hit); for review and reject a full entry in the
                                   log; for review a place in the queue; for every comment its status
    decide(id, approve|reject)     a moderator clears a pending review
    overturn(id)                   a moderator reverses a final status (accepted <-> rejected)
    status(id)                     what the site asks before publishing
    entries(...) / queue(...) / counts(...)   what the dashboard reads

Statuses: accepted and rejected (the service decided), pending_review (waiting for a moderator), approved
and rejected_by_moderator (a moderator decided, by review or overturn). Acceptances are counted and get a
status but no log entry: the log is for what a moderator may need to read, and accepts are most traffic.

Every store call may raise StoreUnavailable; the pipeline catches it around `record` (a verdict is never
lost to Redis trouble), the review API turns it into a 503. No web framework here.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from service.moderation.types import Comment, Verdict
from service.review.models import (
    COUNTED,
    PUBLISH,
    CommentNotFound,
    CommentStatus,
    Counts,
    DecisionConflict,
    LogPage,
    LogRecord,
    ModeratorAction,
    QueueItem,
    Status,
    comment_status,
    ms_to_datetime,
    parse_record,
)
from service.store.base import Store
from service.store.keys import Keys

log = logging.getLogger(__name__)

MINUTES_SHOWN = 60  # the overview's last hour, minute by minute
HOURS_SHOWN = 24  # and its last day, hour by hour
# Counters live a little longer than the dashboard looks back, so a chart never shows a bucket half-expired.
_MINUTE_COUNTER_TTL_S = 2 * MINUTES_SHOWN * 60
_HOUR_COUNTER_TTL_S = 2 * HOURS_SHOWN * 3600


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class DecisionLog:
    def __init__(
        self,
        store: Store,
        keys: Keys,
        *,
        max_entries: int,
        retention_s: int,
        clock: Callable[[], float] = time.time,
        on_final: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        """`on_final` receives each moderator's final decision as the webhook payload (it must not block)."""
        self.store = store
        self.keys = keys
        self.max_entries = max_entries
        self.retention_s = retention_s
        self._clock = clock
        self.on_final = on_final

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

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
        status: Status = {"accept": "accepted", "reject": "rejected", "review": "pending_review"}[
            verdict.verdict
        ]
        fields = {
            "status": status,
            "verdict": verdict.verdict,
            "updated_ms": str(now_ms),
            "article_id": comment.article_id or "",
            "author_id": comment.author_id or "",
            "decided_by": "",
            "note": "",
            "log_id": "",
        }
        if verdict.verdict != "accept":
            entry = {
                "kind": "verdict",
                "comment_id": verdict.id,
                "verdict": verdict.verdict,
                "text": comment.text,
                "article_id": comment.article_id or "",
                "author_id": comment.author_id or "",
                "clauses": ",".join(sorted({r.clause for r in verdict.reasons if r.clause})),
                "reasons": _json([r.model_dump(mode="json") for r in verdict.reasons]),
                "matches": _json([m.model_dump(mode="json") for m in verdict.profanity.matches]),
                "scores": _json(verdict.scores),
                "notice": verdict.notice or "",
                "cached": "1" if verdict.cached else "0",
                "policy_version": verdict.policy_version,
                "model": verdict.model,
                "at_ms": str(now_ms),
            }
            fields["log_id"] = await self.store.log_append(
                self.keys.decision_log(),
                entry,
                max_len=self.max_entries,
                min_id_ms=now_ms - self.retention_s * 1000,
            )
            if status == "pending_review":
                # The queue shows the comment from its status hash, which outlives the log's trimming.
                fields["entry"] = _json(entry)
        # Pending reviews don't expire: a comment must not vanish from the queue before anyone decided it.
        ttl = None if status == "pending_review" else self.retention_s
        await self.store.hash_set(self.keys.comment(verdict.id), fields, ttl)
        if status == "pending_review":
            await self.store.queue_add(self.keys.review_queue(), verdict.id, now_ms)

    async def _count(self, counted: Sequence[tuple[str, str]], now_ms: int) -> None:
        minute, hour = now_ms // 60_000, now_ms // 3_600_000
        minute_keys = [self.keys.counter("m", minute, d, v) for d, v in counted]
        hour_keys = [self.keys.counter("h", hour, d, v) for d, v in counted]
        await self.store.counters_incr(minute_keys, _MINUTE_COUNTER_TTL_S)
        await self.store.counters_incr(hour_keys, _HOUR_COUNTER_TTL_S)

    # -- the site's question -------------------------------------------------------------------------------

    async def status(self, comment_id: str) -> CommentStatus:
        fields = await self.store.hash_get(self.keys.comment(comment_id))
        if not fields or fields.get("status") not in PUBLISH:
            raise CommentNotFound(comment_id)
        return comment_status(comment_id, fields)

    # -- moderators' decisions -----------------------------------------------------------------------------

    async def decide(
        self, comment_id: str, decision: ModeratorAction, moderator: str, note: str = ""
    ) -> CommentStatus:
        """Clear a pending review. Of two moderators deciding the same comment at once, exactly one wins."""
        key = self.keys.comment(comment_id)
        removed = await self.store.queue_remove(self.keys.review_queue(), comment_id)
        fields = await self.store.hash_get(key)
        if not fields or fields.get("status") not in PUBLISH:
            raise CommentNotFound(comment_id)
        if fields["status"] != "pending_review":
            raise DecisionConflict(
                fields["status"], f"Comment {comment_id} is not pending review (it is {fields['status']})."
            )
        if not removed:
            raise DecisionConflict(fields["status"], f"Another moderator is deciding comment {comment_id}.")
        new: Status = "approved" if decision == "approve" else "rejected_by_moderator"
        return await self._apply(comment_id, fields, new, decision, moderator, note, overturn=False)

    async def overturn(self, comment_id: str, moderator: str, note: str = "") -> CommentStatus:
        """Reverse a final status: what is published gets hidden, what is hidden gets published."""
        fields = await self.store.hash_get(self.keys.comment(comment_id))
        if not fields or fields.get("status") not in PUBLISH:
            raise CommentNotFound(comment_id)
        current = fields["status"]
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
        entry = {
            "kind": "moderator",
            "comment_id": comment_id,
            "action": action,
            "overturn": "1" if overturn else "0",
            "previous_status": fields["status"],
            "status": new,
            "moderator": moderator,
            "note": note,
            "article_id": fields.get("article_id", ""),
            "verdict": fields.get("verdict", ""),
            "at_ms": str(now_ms),
        }
        await self.store.log_append(
            self.keys.decision_log(),
            entry,
            max_len=self.max_entries,
            min_id_ms=now_ms - self.retention_s * 1000,
        )
        update = {"status": new, "updated_ms": str(now_ms), "decided_by": moderator, "note": note}
        await self.store.hash_set(self.keys.comment(comment_id), update, self.retention_s)
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

    # -- what the dashboard reads --------------------------------------------------------------------------

    async def entries(
        self,
        *,
        before: str | None = None,
        kind: str | None = "verdict",
        verdict: str | None = None,
        clause: str | None = None,
        article_id: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        page_size: int = 50,
        scan_limit: int = 5000,
    ) -> LogPage:
        """Newest first, from the entry before `before` (a stream id, exclusive). Filters on the time go to
        the stream itself; the others are applied while reading, at most `scan_limit` entries per page, so a
        page costs the same however large the log is and however rare the filter's matches."""
        max_id = f"({before}" if before else (str(until_ms) if until_ms is not None else "+")
        min_id = str(since_ms) if since_ms is not None else "-"
        records: list[LogRecord] = []
        scanned = 0
        last_id: str | None = None
        while scanned < scan_limit:
            chunk = min(200, scan_limit - scanned)
            rows = await self.store.log_range(
                self.keys.decision_log(), max_id=max_id, min_id=min_id, count=chunk
            )
            for row in rows:
                scanned += 1
                last_id = row.id
                fields = row.fields
                if (
                    (kind and fields.get("kind") != kind)
                    or (verdict and fields.get("verdict") != verdict)
                    or (clause and clause not in fields.get("clauses", "").split(","))
                    or (article_id and fields.get("article_id") != article_id)
                ):
                    continue
                records.append(parse_record(row.id, fields))
                if len(records) >= page_size:
                    return LogPage(records, row.id, scan_limited=False)
            if len(rows) < chunk:
                return LogPage(records, None, scan_limited=False)
            max_id = f"({last_id}"
        return LogPage(records, last_id, scan_limited=True)

    async def log_length(self) -> int:
        return await self.store.log_length(self.keys.decision_log())

    async def queue_size(self) -> int:
        return await self.store.queue_size(self.keys.review_queue())

    async def queue(self, offset: int = 0, count: int = 20) -> list[QueueItem]:
        """Pending reviews, oldest first. Ids whose comment was re-moderated since are dropped on the way."""
        queue_key = self.keys.review_queue()
        items: list[QueueItem] = []
        while len(items) < count:
            ids = await self.store.queue_page(queue_key, offset, count - len(items))
            if not ids:
                break
            statuses = await self.store.hashes_get([self.keys.comment(i) for i in ids])
            for comment_id, fields in zip(ids, statuses, strict=True):
                if not fields or fields.get("status") != "pending_review" or "entry" not in fields:
                    await self.store.queue_remove(queue_key, comment_id)
                    continue
                offset += 1
                entry = json.loads(fields["entry"])
                record = parse_record(fields.get("log_id", ""), entry)
                items.append(
                    QueueItem(comment_id, ms_to_datetime(int(fields.get("updated_ms", "0"))), record)
                )
        return items

    async def statuses(self, comment_ids: Sequence[str]) -> dict[str, str]:
        """Current status per comment id (those still known)."""
        values = await self.store.hashes_get([self.keys.comment(i) for i in comment_ids])
        return {i: v["status"] for i, v in zip(comment_ids, values, strict=True) if v and "status" in v}

    async def counts(self) -> Counts:
        now_ms = self._now_ms()
        minute, hour = now_ms // 60_000, now_ms // 3_600_000
        names = [f"{d}:{v}" for d, values in COUNTED for v in values]
        minutes = list(range(minute - MINUTES_SHOWN + 1, minute + 1))
        hours = list(range(hour - HOURS_SHOWN + 1, hour + 1))
        minute_keys = [self.keys.counter("m", m, *n.split(":")) for n in names for m in minutes]
        hour_keys = [self.keys.counter("h", h, *n.split(":")) for n in names for h in hours]
        minute_values = await self.store.counters_get(minute_keys)
        hour_values = await self.store.counters_get(hour_keys)
        return Counts(
            minutes={
                n: minute_values[i * len(minutes) : (i + 1) * len(minutes)] for i, n in enumerate(names)
            },
            hours={n: hour_values[i * len(hours) : (i + 1) * len(hours)] for i, n in enumerate(names)},
            minute_starts=[ms_to_datetime(m * 60_000) for m in minutes],
            hour_starts=[ms_to_datetime(h * 3_600_000) for h in hours],
        )
