"""What the dashboard, the review API and rescoring read: log pages with filters, the review queue, statuses,
counter series. `LogReader` holds them; `DecisionLog` (log.py) is a `LogReader` that also writes.

Reads write nothing, with one exception: a queue page drops the ids of comments that are no longer pending
(re-moderated since they entered), so the queue heals itself as moderators page through it.

The queue as moderators read it is the review queue followed by its overflow (where the full queue moved
its oldest): every pending review is shown and counted, the overflow's marked as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from service.review.models import (
    COUNTED,
    HOURS_SHOWN,
    MINUTES_SHOWN,
    Counts,
    LogPage,
    LogRecord,
    QueueItem,
    ms_to_datetime,
    parse_record,
    queued_record,
)
from service.store.base import CounterName, DecisionStore, LogCursor

_CHUNK = 200  # entries per store call while a filtered page is scanned


class LogReader:
    """The reads of the decision log, the review queue, the statuses and the counters on one store."""

    def __init__(self, store: DecisionStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def log_length(self) -> int:
        return await self.store.log_length()

    async def queue_size(self) -> int:
        """Pending reviews waiting for a moderator: the queue's and the overflow's."""
        return await self.store.review_count() + await self.store.review_count(overflow=True)

    async def overflow_size(self) -> int:
        """Pending reviews in the overflow (counted in `queue_size` too)."""
        return await self.store.review_count(overflow=True)

    async def overflow_lost(self) -> int:
        """Pending reviews that fell out of the overflow, ever."""
        return await self.store.review_lost()

    async def entries(
        self,
        *,
        before: LogCursor | None = None,
        kind: str | None = "verdict",
        verdict: str | None = None,
        clause: str | None = None,
        article_id: str | None = None,
        site: str | None = None,
        since_ms: int | None = None,
        until_ms: int | None = None,
        page_size: int = 50,
        scan_limit: int = 5000,
    ) -> LogPage:
        """Newest first, from the entry before `before` (exclusive); None starts from the newest (callers parse
        a client's text with `LogCursor.parse`, the one place that knows its syntax). Filters on the time go
        to the store itself; the others are applied while reading, at most `scan_limit` entries per page, so
        a page costs the same however large the log is and however rare the filter's matches."""
        records: list[LogRecord] = []
        scanned = 0
        cursor = before
        last: LogCursor | None = None  # the last entry scanned, matching or not
        while scanned < scan_limit:
            chunk = min(_CHUNK, scan_limit - scanned)
            rows = await self.store.read_log(count=chunk, before=cursor, since_ms=since_ms, until_ms=until_ms)
            for row in rows:
                scanned += 1
                last = row.id
                fields = row.fields
                if (
                    (kind and fields.get("kind") != kind)
                    # A moderator's change of the word list (issue 11, item 7) is neither a verdict nor a
                    # decision on a comment: no page of comments lists it.
                    or fields.get("kind") == "rules"
                    or (verdict and fields.get("verdict") != verdict)
                    or (clause and clause not in fields.get("clauses", "").split(","))
                    or (article_id and fields.get("article_id") != article_id)
                    or (site and fields.get("site") != site)
                ):
                    continue
                records.append(parse_record(str(row.id), fields))
                if len(records) >= page_size:
                    return LogPage(records, row.id, scan_limited=False)
            if len(rows) < chunk:
                return LogPage(records, None, scan_limited=False)
            cursor = last
        return LogPage(records, last, scan_limited=True)

    async def queue(self, offset: int = 0, count: int = 20) -> list[QueueItem]:
        """Pending reviews, oldest first: the queue's, then the overflow's. Ids whose comment was re-moderated
        since are dropped on the way."""
        items: list[QueueItem] = []
        for overflow in (False, True):
            while len(items) < count:
                ids = await self.store.review_page(offset, count - len(items), overflow=overflow)
                if not ids:
                    break
                statuses = await self.store.get_statuses(ids)
                for comment_id, fields in zip(ids, statuses, strict=True):
                    if not fields or fields.get("status") != "pending_review" or not fields.get("entry"):
                        await self.store.claim_review(comment_id)
                        continue
                    offset += 1
                    entered_at = ms_to_datetime(int(fields.get("updated_ms", "0")))
                    items.append(QueueItem(comment_id, entered_at, queued_record(fields), overflow))
            if len(items) >= count:
                break
            # What is left of `offset` skips into the overflow.
            offset = max(0, offset - await self.store.review_count(overflow=overflow))
        return items

    async def statuses(self, comment_ids: Sequence[str]) -> dict[str, str]:
        """Current status per comment id (those still known)."""
        values = await self.store.get_statuses(comment_ids)
        return {i: v["status"] for i, v in zip(comment_ids, values, strict=True) if v and "status" in v}

    async def counts(self) -> Counts:
        """Every counted series up to now: per minute over the last hour, per hour over the last day."""
        now_ms = self._now_ms()
        minute, hour = now_ms // 60_000, now_ms // 3_600_000
        names = [(d, v) for d, values in COUNTED for v in values]
        minutes = list(range(minute - MINUTES_SHOWN + 1, minute + 1))
        hours = list(range(hour - HOURS_SHOWN + 1, hour + 1))
        minute_values = await self.store.read_counts(
            [CounterName("m", m, d, v) for d, v in names for m in minutes]
        )
        hour_values = await self.store.read_counts(
            [CounterName("h", h, d, v) for d, v in names for h in hours]
        )
        labels = [f"{d}:{v}" for d, v in names]
        return Counts(
            minutes={
                n: minute_values[i * len(minutes) : (i + 1) * len(minutes)] for i, n in enumerate(labels)
            },
            hours={n: hour_values[i * len(hours) : (i + 1) * len(hours)] for i, n in enumerate(labels)},
            minute_starts=[ms_to_datetime(m * 60_000) for m in minutes],
            hour_starts=[ms_to_datetime(h * 3_600_000) for h in hours],
        )
