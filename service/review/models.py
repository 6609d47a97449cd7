"""What moderators read and decide, as values: statuses, log records, queue items, counter series.

Statuses: accepted and rejected (the service decided), pending_review (waiting for a moderator), approved
and rejected_by_moderator (a moderator decided, by review or overturn).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from service.moderation.types import CLAUSES, VERDICTS, Reason, WordMatch

log = logging.getLogger(__name__)

Status = Literal["accepted", "rejected", "pending_review", "approved", "rejected_by_moderator"]
ModeratorAction = Literal["approve", "reject"]
"""What a moderator does to a comment: approve it or reject it (by review, or by overturning)."""

#: Whether the site should show the comment in each status; None while a moderator has yet to decide.
PUBLISH: dict[str, bool | None] = {
    "accepted": True,
    "approved": True,
    "rejected": False,
    "rejected_by_moderator": False,
    "pending_review": None,
}

#: What the dashboard counts: (dimension, values). Clauses come from the domain's vocabulary.
COUNTED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("verdict", VERDICTS),
    ("clause", CLAUSES),
    ("cache", ("hit", "miss")),
    ("decision", ("approve", "reject", "overturn")),
)
_reasons = TypeAdapter(list[Reason])
_matches = TypeAdapter(list[WordMatch])


class CommentNotFound(Exception):
    """No status is known for that comment id (never moderated, or older than the retention)."""


class DecisionConflict(Exception):
    """The comment is not in a state that allows this decision (already decided, or still pending)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CommentStatus:
    id: str
    status: Status
    verdict: str
    updated_at: datetime
    article_id: str | None = None
    decided_by: str | None = None
    note: str | None = None

    @property
    def publish(self) -> bool | None:
        return PUBLISH[self.status]


@dataclass
class LogRecord:
    """One decision-log entry, parsed for the dashboard and the API."""

    id: str
    kind: Literal["verdict", "moderator"]
    comment_id: str
    at: datetime
    verdict: str = ""
    text: str = ""
    article_id: str | None = None
    author_id: str | None = None
    reasons: list[Reason] = field(default_factory=list)
    matches: list[WordMatch] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    notice: str | None = None
    cached: bool = False
    policy_version: str = ""
    model: str = ""
    # moderator entries
    action: str = ""
    overturn: bool = False
    previous_status: str = ""
    status: str = ""
    moderator: str = ""
    note: str = ""

    @property
    def clauses(self) -> list[str]:
        return sorted({r.clause for r in self.reasons if r.clause})

    @property
    def spans(self) -> list[tuple[int, int]]:
        """The offending spans of the text (ORIGINAL offsets): word-list matches and located reasons."""
        spans = [(m.start, m.end) for m in self.matches]
        spans += [(r.start, r.end) for r in self.reasons if r.start is not None and r.end is not None]
        return spans


@dataclass
class LogPage:
    records: list[LogRecord]
    next_before: str | None  # the cursor of the next (older) page; None at the end of the log
    scan_limited: bool  # the page is short because the filter scanned its limit, not because the log ended


@dataclass
class QueueItem:
    comment_id: str
    entered_at: datetime
    record: LogRecord


@dataclass
class Counts:
    """Counter series, oldest bucket first: per minute over the last hour, per hour over the last day."""

    minutes: dict[str, list[int]]  # "verdict:reject" -> 60 values
    hours: dict[str, list[int]]  # "verdict:reject" -> 24 values
    minute_starts: list[datetime]
    hour_starts: list[datetime]

    def last_hour(self, name: str) -> int:
        return sum(self.minutes.get(name, ()))

    def last_day(self, name: str) -> int:
        return sum(self.hours.get(name, ()))


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def comment_status(comment_id: str, fields: dict[str, str]) -> CommentStatus:
    return CommentStatus(
        id=comment_id,
        status=fields["status"],  # type: ignore[arg-type]  (checked against PUBLISH by the callers)
        verdict=fields.get("verdict", ""),
        updated_at=ms_to_datetime(int(fields.get("updated_ms") or 0)),
        article_id=fields.get("article_id") or None,
        decided_by=fields.get("decided_by") or None,
        note=fields.get("note") or None,
    )


def parse_record(entry_id: str, fields: dict[str, str]) -> LogRecord:
    """A log entry's fields as a LogRecord; a field that no longer parses is shown empty, not fatal."""

    def loads(name: str, adapter: TypeAdapter[Any], default: Any) -> Any:
        try:
            return adapter.validate_json(fields[name]) if fields.get(name) else default
        except ValidationError:
            log.warning("decision log entry %s: field %s does not parse; shown empty", entry_id, name)
            return default

    scores: dict[str, float] = {}
    try:
        raw_scores = json.loads(fields.get("scores") or "{}")
        scores = {str(k): float(v) for k, v in raw_scores.items()} if isinstance(raw_scores, dict) else {}
    except (ValueError, TypeError):
        pass
    return LogRecord(
        id=entry_id,
        kind="moderator" if fields.get("kind") == "moderator" else "verdict",
        comment_id=fields.get("comment_id", ""),
        at=ms_to_datetime(int(fields.get("at_ms") or 0)),
        verdict=fields.get("verdict", ""),
        text=fields.get("text", ""),
        article_id=fields.get("article_id") or None,
        author_id=fields.get("author_id") or None,
        reasons=loads("reasons", _reasons, []),
        matches=loads("matches", _matches, []),
        scores=scores,
        notice=fields.get("notice") or None,
        cached=fields.get("cached") == "1",
        policy_version=fields.get("policy_version", ""),
        model=fields.get("model", ""),
        action=fields.get("action", ""),
        overturn=fields.get("overturn") == "1",
        previous_status=fields.get("previous_status", ""),
        status=fields.get("status", ""),
        moderator=fields.get("moderator", ""),
        note=fields.get("note", ""),
    )
