"""Suggested scores: what a site's moderators say a comment's scores should have been, sent the way sites
sent them to Perspective (`comments:suggestscore`; Coral Talk sends one when a moderator approves or rejects
a comment: 0 for approved, 1 for rejected). Kept as moderator-grade feedback, beside the moderators' own
decisions, for the calibration of thresholds; the dashboard shows them newest first.

    SuggestionLog.add(suggestion)          record one (the text as sent, cut to `max_text_chars`)
    SuggestionLog.page(before, count)      newest first, from the position before `before`
    SuggestionLog.length()                 how many are kept

Storage: a capped log of its own, not the decision log: it is a `DecisionStore`'s log (a Redis Stream, or
process memory) opened under the deployment's prefix plus "suggestions:" (service/runtime.py), trimmed to
`max_entries` and to the retention like the decision log, so a flood of suggestions can neither grow without
bound nor push moderators' decisions out of theirs. Every store call may raise StoreUnavailable (the API
answers 503). No web framework here.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from service.review.models import ms_to_datetime
from service.store.base import DecisionStore, LogCursor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuggestedSpan:
    """A suggested score for part of the text: `start` and `end` index the text as sent (code points)."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Suggestion:
    """One suggestion as a site sent it: scores per attribute (Perspective's names, e.g. TOXICITY), for the
    whole comment and, optionally, for spans of it."""

    text: str
    scores: Mapping[str, float]
    spans: Mapping[str, Sequence[SuggestedSpan]] = field(default_factory=dict)
    languages: Sequence[str] = ()
    community_id: str | None = None
    client_token: str | None = None
    session_id: str | None = None
    site: str | None = None
    """The site of the API key it came with (None: anonymous)."""
    context: str = ""
    """What the site sent as the comment's context (Coral: the comment's URL and ids), as text."""

    @property
    def attributes(self) -> list[str]:
        """Every attribute it suggests a score for, as a whole or by span."""
        return list(dict.fromkeys([*self.scores, *self.spans]))


@dataclass(frozen=True)
class SuggestionRecord:
    """A kept suggestion: its position in the log (str() of a LogCursor), when it came, what it said."""

    id: str
    at: datetime
    suggestion: Suggestion
    text_omitted: int = 0
    """Characters cut off the end of the text before it was kept."""

    @property
    def highlights(self) -> list[tuple[int, int]]:
        """Every suggested span, for the dashboard to mark in the text."""
        return [(s.start, s.end) for spans in self.suggestion.spans.values() for s in spans]


@dataclass(frozen=True)
class SuggestionPage:
    records: list[SuggestionRecord]
    next_before: LogCursor | None
    """Where the next (older) page starts, exclusive; None at the end."""


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class SuggestionLog:
    def __init__(
        self,
        store: DecisionStore,
        *,
        max_entries: int,
        retention_s: int,
        max_text_chars: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`store` must be one of the suggestions' own (its log is theirs alone); `max_text_chars` bounds the
        text and the context kept of each (None: kept whole, as in tests that don't care)."""
        self.store = store
        self.max_entries = max_entries
        self.retention_s = retention_s
        self.max_text_chars = max_text_chars
        self._clock = clock

    def _cut(self, text: str) -> str:
        return text if self.max_text_chars is None else text[: self.max_text_chars]

    async def add(self, suggestion: Suggestion) -> LogCursor:
        """Keep `suggestion`; spans past the kept text are dropped with the text they point into."""
        now_ms = int(self._clock() * 1000)
        text = self._cut(suggestion.text)
        spans = {
            attribute: [[s.start, s.end, s.score] for s in spans if s.end <= len(text)]
            for attribute, spans in suggestion.spans.items()
        }
        entry = {
            "kind": "suggestion",
            "text": text,
            "text_omitted": str(len(suggestion.text) - len(text)),
            "scores": _json(dict(suggestion.scores)),
            "spans": _json({a: s for a, s in spans.items() if s}),
            "languages": ",".join(suggestion.languages),
            "community_id": suggestion.community_id or "",
            "client_token": suggestion.client_token or "",
            "session_id": suggestion.session_id or "",
            "site": suggestion.site or "",
            "context": self._cut(suggestion.context),
            "at_ms": str(now_ms),
        }
        return await self.store.append_log(
            entry, max_len=self.max_entries, min_ms=now_ms - self.retention_s * 1000
        )

    async def page(self, before: LogCursor | None = None, count: int = 25) -> SuggestionPage:
        # One more than the page: whether an older page exists is known without a read that finds nothing.
        rows = await self.store.read_log(count=count + 1, before=before)
        records = [_record(str(row.id), row.fields) for row in rows[:count]]
        return SuggestionPage(records, rows[count - 1].id if len(rows) > count else None)

    async def length(self) -> int:
        return await self.store.log_length()


def _record(entry_id: str, fields: dict[str, str]) -> SuggestionRecord:
    """A kept suggestion; a field that no longer parses is shown empty, not fatal."""
    text = fields.get("text", "")
    scores: dict[str, float] = {}
    spans: dict[str, list[SuggestedSpan]] = {}
    try:
        raw_scores = json.loads(fields.get("scores") or "{}")
        scores = {str(k): float(v) for k, v in raw_scores.items()}
        raw_spans = json.loads(fields.get("spans") or "{}")
        spans = {
            str(a): [SuggestedSpan(int(s), int(e), float(v)) for s, e, v in items]
            for a, items in raw_spans.items()
        }
    except (ValueError, TypeError, AttributeError):
        log.warning("suggestion %s: its scores do not parse; shown empty", entry_id)
    omitted = fields.get("text_omitted", "")
    return SuggestionRecord(
        id=entry_id,
        at=ms_to_datetime(int(fields.get("at_ms") or 0)),
        suggestion=Suggestion(
            text=text,
            scores=scores,
            spans=spans,
            languages=tuple(x for x in fields.get("languages", "").split(",") if x),
            community_id=fields.get("community_id") or None,
            client_token=fields.get("client_token") or None,
            session_id=fields.get("session_id") or None,
            site=fields.get("site") or None,
            context=fields.get("context", ""),
        ),
        text_omitted=int(omitted) if omitted.isascii() and omitted.isdigit() else 0,
    )
