"""What moderators read and decide, as values, and how they are written to and read from the store.

Values: statuses, log records, log pages, queue items, counter series. Stored forms (the store keeps flat
string fields): a verdict's and a moderator's log entry (`verdict_entry`, `moderator_entry` → `parse_record`)
and a comment's status (`verdict_status` → `comment_status`). The field names are the stored layout: they
must not change without a migration of what is already stored.

Statuses: accepted and rejected (the service decided), pending_review (waiting for a moderator), approved
and rejected_by_moderator (a moderator decided, by review or overturn).

A status belongs to its first writer: it is created once, with the digest of the comment's text, the verdict
as answered and a random status token (the only key to reading it through the public API); later writes
are the moderators' and, for the service's own statuses only, a rescoring run's.

Appeals (issue 14): a reject's or a review's status also keeps a random `appeal_token` (the key to appealing
and to the statement of reasons). An appeal adds `appealed_ms`, `appeal_explanation` and `appeal_of_ms` (when
the decision appealed was made), sets the status back to pending_review, and puts the verdict's log entry,
marked `appeal`, in `entry` for the queue; the moderator's decision then logs a moderator entry with `appeal`.

The site whose API key a comment came with (issue 13) is kept in its verdict's log entry (`site`, empty for
an anonymous one), in its status (absent for an anonymous one, and never changed once set) and in the log
entries of moderators' decisions on it, so that the log can be read site by site.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, get_args

from pydantic import TypeAdapter, ValidationError

from service.moderation.types import CLAUSES, VERDICTS, Comment, Reason, Verdict, WordMatch
from service.store.base import LogCursor

log = logging.getLogger(__name__)

Status = Literal["accepted", "rejected", "pending_review", "approved", "rejected_by_moderator"]
STATUSES: tuple[Status, ...] = get_args(Status)
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

#: The statuses the service itself gave; any other is a moderator's decision, which only a moderator changes.
SERVICE_STATUSES: tuple[Status, ...] = ("accepted", "rejected", "pending_review")

#: The status each of the service's verdicts gives a comment.
STATUS_OF_VERDICT: dict[str, Status] = {
    "accept": "accepted",
    "reject": "rejected",
    "review": "pending_review",
}

#: What the dashboard counts: (dimension, values). Clauses come from the domain's vocabulary.
COUNTED: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("verdict", VERDICTS),
    ("clause", CLAUSES),
    ("cache", ("hit", "miss")),
    ("decision", ("approve", "reject", "overturn")),
    # Pending reviews the full queue moved to the overflow, and those that fell out of the overflow.
    ("queue", ("overflowed", "lost")),
)
MINUTES_SHOWN = 60  # the overview's last hour, minute by minute
HOURS_SHOWN = 24  # and its last day, hour by hour

_reasons = TypeAdapter(list[Reason])
_matches = TypeAdapter(list[WordMatch])


class CommentNotFound(Exception):
    """No status is known for that comment id (never moderated, or older than the retention)."""


class DecisionConflict(Exception):
    """The comment is not in a state that allows this decision (already decided, or still pending)."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status


class IdConflict(Exception):
    """A comment id already holds the status of another text: a status belongs to its first writer.
    `index` is the comment's place in the request."""

    def __init__(self, index: int, comment_id: str) -> None:
        super().__init__(
            f"Comment id {comment_id} already has a status, for another text: a comment's status belongs to "
            "its first writer. Send a new comment under a new id."
        )
        self.index, self.comment_id = index, comment_id


class Recorded(NamedTuple):
    """What recording one verdict came to. `created`: the comment's status is new, and `verdict` carries its
    status token. `repeated`: the same text was recorded under this id before, and `verdict` is the one
    recorded then (its token too). `conflict`: another text holds the id; `verdict` is the one given."""

    outcome: Literal["created", "repeated", "conflict"]
    verdict: Verdict


@dataclass(frozen=True)
class CommentStatus:
    id: str
    status: Status
    verdict: str
    updated_at: datetime
    article_id: str | None = None
    decided_by: str | None = None
    note: str | None = None
    site: str | None = None
    appeal: Appeal | None = None  # the commenter's appeal, once there is one

    @property
    def publish(self) -> bool | None:
        return PUBLISH[self.status]


@dataclass(frozen=True)
class Appeal:
    """A commenter's appeal against a rejection (issue 14): what they wrote and when."""

    explanation: str
    appealed_at: datetime


@dataclass
class LogRecord:
    """One decision-log entry, parsed for the dashboard and the API."""

    id: str
    kind: Literal["verdict", "moderator"]
    comment_id: str
    at: datetime
    verdict: str = ""
    text: str = ""
    text_omitted: int = 0  # characters cut off the end of `text` before it was logged
    article_id: str | None = None
    author_id: str | None = None
    site: str | None = None  # the site whose API key the comment came with; None: anonymous
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
    # appeals (issue 14): a queued record of an appealed comment, or a moderator's decision of an appeal
    appeal: bool = False
    appeal_explanation: str = ""
    appealed_at: datetime | None = None

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
    # Where the next (older) page starts, exclusive; None at the end of the log. str() is the API's form.
    next_before: LogCursor | None
    scan_limited: bool  # the page is short because the filter scanned its limit, not because the log ended


@dataclass
class QueueItem:
    comment_id: str
    entered_at: datetime
    record: LogRecord
    overflow: bool = False  # in the overflow: the full queue moved it out


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


def known_status(fields: dict[str, str] | None) -> Status | None:
    """The status the stored fields hold, or None when they hold none this service knows."""
    value = (fields or {}).get("status")
    return next((s for s in STATUSES if s == value), None)


def comment_status(comment_id: str, fields: dict[str, str]) -> CommentStatus:
    status = known_status(fields)
    if status is None:
        raise ValueError(f"comment {comment_id}: stored status {fields.get('status')!r} is not a status")
    return CommentStatus(
        id=comment_id,
        status=status,
        verdict=fields.get("verdict", ""),
        updated_at=ms_to_datetime(int(fields.get("updated_ms") or 0)),
        article_id=fields.get("article_id") or None,
        decided_by=fields.get("decided_by") or None,
        note=fields.get("note") or None,
        site=fields.get("site") or None,
        appeal=stored_appeal(fields),
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
        text_omitted=_count(fields.get("text_omitted")),
        article_id=fields.get("article_id") or None,
        author_id=fields.get("author_id") or None,
        site=fields.get("site") or None,
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
        appeal=fields.get("appeal") == "1",
        appeal_explanation=fields.get("appeal_explanation", ""),
        appealed_at=ms_to_datetime(_count(fields["appealed_ms"])) if fields.get("appealed_ms") else None,
    )


def _count(value: str | None) -> int:
    """A stored count; 0 when absent or unreadable (an entry written before the field existed)."""
    return int(value) if value and value.isascii() and value.isdigit() else 0


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def verdict_entry(
    comment: Comment, verdict: Verdict, at_ms: int, *, max_text_chars: int | None = None
) -> dict[str, str]:
    """The log entry of a verdict the service gave (reviews and rejections are logged): everything a
    moderator needs to judge it without the comment's page. With `max_text_chars`, the text is kept up to
    that many characters and `text_omitted` says how many were cut."""
    text = comment.text if max_text_chars is None else comment.text[:max_text_chars]
    cut = {"text_omitted": str(len(comment.text) - len(text))} if len(text) < len(comment.text) else {}
    return {
        "kind": "verdict",
        "comment_id": verdict.id,
        "verdict": verdict.verdict,
        "text": text,
        **cut,
        "article_id": comment.article_id or "",
        "author_id": comment.author_id or "",
        "site": comment.site or "",
        "clauses": ",".join(sorted({r.clause for r in verdict.reasons if r.clause})),
        "reasons": _json([r.model_dump(mode="json") for r in verdict.reasons]),
        "matches": _json([m.model_dump(mode="json") for m in verdict.profanity.matches]),
        "scores": _json(verdict.scores),
        "notice": verdict.notice or "",
        "cached": "1" if verdict.cached else "0",
        "policy_version": verdict.policy_version,
        "model": verdict.model,
        "at_ms": str(at_ms),
    }


def moderator_entry(
    comment_id: str,
    status_fields: dict[str, str],
    new: Status,
    action: ModeratorAction,
    moderator: str,
    note: str,
    *,
    overturn: bool,
    at_ms: int,
) -> dict[str, str]:
    """The log entry of a moderator's decision on a comment whose stored status is `status_fields`."""
    return {
        "kind": "moderator",
        "comment_id": comment_id,
        "action": action,
        "overturn": "1" if overturn else "0",
        "previous_status": status_fields["status"],
        "status": new,
        "moderator": moderator,
        "note": note,
        "article_id": status_fields.get("article_id", ""),
        "site": status_fields.get("site", ""),
        "verdict": status_fields.get("verdict", ""),
        **({"appeal": "1"} if appeal_pending(status_fields) else {}),
        "at_ms": str(at_ms),
    }


def verdict_status(comment: Comment, verdict: Verdict, at_ms: int) -> dict[str, str]:
    """A comment's status fields after the service's verdict. A fresh verdict clears what a moderator left
    (`decided_by`, `note`); `log_id` (and, for a pending review, `entry`) are filled in once it is logged.
    `verdict_json` is the verdict as answered (without its status token), for a repeat of the same text.
    `site` only when the comment has one: a rescoring run that knows none leaves the first writer's."""
    site = {"site": comment.site} if comment.site else {}
    return {
        **site,
        "status": STATUS_OF_VERDICT[verdict.verdict],
        "verdict": verdict.verdict,
        "updated_ms": str(at_ms),
        "article_id": comment.article_id or "",
        "author_id": comment.author_id or "",
        "decided_by": "",
        "note": "",
        "log_id": "",
        "verdict_json": verdict.model_dump_json(exclude={"status_token", "appeal_token"}),
    }


def first_writer_status(comment: Comment, verdict: Verdict, at_ms: int, token: str) -> dict[str, str]:
    """The status fields a comment's first verdict creates: `verdict_status`, the digest of the text it
    was given for and its status token (neither changes afterwards)."""
    return {
        **verdict_status(comment, verdict, at_ms),
        "text_digest": text_digest(comment.text),
        "status_token": token,
    }


def text_digest(text: str) -> str:
    """What a status remembers of its text: enough to tell a repeat from another text, not the text."""
    # surrogatepass: a lone surrogate (which the API refuses, but rescoring may read) still has bytes.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def stored_verdict(fields: dict[str, str]) -> Verdict | None:
    """The verdict a status was created with, its status and appeal tokens included; None for a status written before
    verdicts were stored with it, or one that no longer parses."""
    raw = fields.get("verdict_json")
    if not raw:
        return None
    try:
        verdict = Verdict.model_validate_json(raw)
    except ValidationError:
        log.warning("comment %s: the stored verdict does not parse", fields.get("comment_id", "?"))
        return None
    tokens = {
        "status_token": fields.get("status_token") or None,
        "appeal_token": fields.get("appeal_token") or None,
    }
    return verdict.model_copy(update=tokens)


def entry_json(entry: dict[str, str]) -> str:
    """A log entry as kept in a pending review's status, which outlives the log's trimming."""
    return _json(entry)


def queued_record(fields: dict[str, str]) -> LogRecord:
    """The log record kept in a pending review's status (see `entry_json`)."""
    return parse_record(fields.get("log_id", ""), json.loads(fields["entry"]))


# -- appeals (issue 14) -----------------------------------------------------------------------------------------

#: The statuses a commenter may appeal: a rejection, by the service or by a moderator.
APPEALABLE: tuple[Status, ...] = ("rejected", "rejected_by_moderator")

AppealRefusal = Literal[
    "already_appealed", "pending_review", "not_appealable", "window_passed", "status_changed"
]


class AppealRefused(Exception):
    """The comment cannot be appealed now: `reason` says why (the API maps each to its answer)."""

    def __init__(self, reason: AppealRefusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def appeal_digest(token: str) -> str:
    """An appeal token's SHA-256 (hex): what is compared, so that a comparison costs the same for any token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def appeal_pending(fields: dict[str, str]) -> bool:
    """Whether the stored status is an appeal waiting for a moderator."""
    return fields.get("status") == "pending_review" and bool(fields.get("appealed_ms"))


def stored_appeal(fields: dict[str, str]) -> Appeal | None:
    """The appeal a status records, or None when there was none."""
    if not fields.get("appealed_ms"):
        return None
    return Appeal(fields.get("appeal_explanation", ""), ms_to_datetime(_count(fields["appealed_ms"])))


def decided_ms(fields: dict[str, str]) -> int:
    """When the decision now standing (or, while an appeal waits, the decision appealed) was made."""
    key = "appeal_of_ms" if appeal_pending(fields) else "updated_ms"
    return _count(fields.get(key))


def check_appealable(comment_id: str, fields: dict[str, str], now_ms: int, window_s: int) -> Status:
    """The status to appeal from, or AppealRefused: once per comment, a rejection only, within `window_s` of
    the decision. A review still pending needs no appeal: a moderator will decide it anyway."""
    status = known_status(fields)
    if fields.get("appealed_ms"):
        raise AppealRefused(
            "already_appealed", f"Comment {comment_id} was appealed already (once per comment)."
        )
    if status == "pending_review":
        raise AppealRefused(
            "pending_review", f"Comment {comment_id} is already awaiting a moderator; no appeal is needed."
        )
    if status not in APPEALABLE or status is None:
        raise AppealRefused("not_appealable", f"Comment {comment_id} is not rejected (it is {status}).")
    if now_ms - decided_ms(fields) > window_s * 1000:
        raise AppealRefused(
            "window_passed",
            f"The time to appeal comment {comment_id} has passed ({window_s // 86_400} days from the decision).",
        )
    return status


def appeal_entry(
    comment_id: str,
    fields: dict[str, str],
    logged: dict[str, str] | None,
    explanation: str,
    at_ms: int,
) -> dict[str, str]:
    """What the review queue shows of an appealed comment: its verdict's log entry (`logged`, None when the log
    has trimmed it: then the verdict the status keeps, without the text) and the appeal."""
    if logged is None:
        stored = stored_verdict(fields)
        logged = {
            "kind": "verdict",
            "comment_id": comment_id,
            "verdict": fields.get("verdict", ""),
            "text": "",
            "article_id": fields.get("article_id", ""),
            "author_id": fields.get("author_id", ""),
            "site": fields.get("site", ""),
            "at_ms": fields.get("updated_ms", "0"),
        }
        if stored is not None:
            logged |= {
                "reasons": _json([r.model_dump(mode="json") for r in stored.reasons]),
                "matches": _json([m.model_dump(mode="json") for m in stored.profanity.matches]),
                "scores": _json(stored.scores),
                "notice": stored.notice or "",
                "policy_version": stored.policy_version,
                "model": stored.model,
            }
    return {**logged, "appeal": "1", "appeal_explanation": explanation, "appealed_ms": str(at_ms)}
