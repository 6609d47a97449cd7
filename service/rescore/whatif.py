"""What a word-list change would do to the logged verdicts (issue 11, item 7: moderators teach the list).

Rescoring's own machinery, not a second one: the most recent logged verdicts (newest first, each comment
once, as `--from-log` reads them) are re-judged by a `Judge` (the API's pipeline) built on a copy of the
rules folder with the proposed term added. The model is not run again: the judge's scorer hands back the
scores the log holds for each text (the same model on the same text scores the same), so the what-if costs
word-list matching only and never competes with live traffic for the model. A comment whose logged entry has
no scores (the model was down) or whose text the log cut is left out and counted.

The caller awaits `what_if`: the log is read on its loop, the rules copy, the build and the judging run in a
thread of their own (the build takes a second or more; nothing CPU-heavy runs on the event loop).
"""

from __future__ import annotations

import asyncio
import pathlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from service.config import Settings
from service.model.base import Scorer
from service.moderation.rules import short_switch_interval
from service.moderation.types import Clause
from service.rescore.judges import Judge
from service.rescore.records import previous_verdict
from service.review.log import DecisionLog
from service.store.base import LogCursor
from service.wordlist.teach import Limits, TeachList, proposed_copy

EXCERPT_CHARS = 120
_CHUNK = 256


@dataclass(frozen=True)
class Flip:
    comment_id: str
    excerpt: str
    """The start of the text (EXCERPT_CHARS at most): the page escapes it like any comment text."""
    old: str
    new: str
    cut: bool = False
    """Whether the text goes on past the excerpt."""


@dataclass
class WhatIf:
    judged: int = 0
    flips: list[Flip] = field(default_factory=list)
    """The first `shown` comments whose verdict would change, newest first."""
    changed: int = 0
    skipped: int = 0
    """Logged comments not re-judged: their text was cut, or their entry has no model scores."""


class LoggedScores:
    """A scorer that answers with the scores the decision log kept for each text (never runs a model)."""

    def __init__(self, model_id: str, categories: Sequence[str], scores: dict[str, dict[str, float]]) -> None:
        self.model_id = model_id
        self.categories = tuple(categories)
        self._scores = scores

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [self._scores[text] for text in texts]


async def _recent(
    decisions: DecisionLog, limit: int, model_enabled: bool
) -> tuple[list[tuple[str, str, str]], dict[str, dict[str, float]], int]:
    rows: list[tuple[str, str, str]] = []
    scores: dict[str, dict[str, float]] = {}
    seen: set[str] = set()
    skipped = 0
    cursor: LogCursor | None = None
    while len(seen) < limit:
        page = await decisions.entries(before=cursor, kind="verdict", page_size=_CHUNK)
        for record in page.records:
            if record.comment_id in seen or not record.text:
                continue
            seen.add(record.comment_id)
            if record.text_omitted or (model_enabled and not record.scores):
                skipped += 1
            else:
                rows.append(
                    (record.comment_id, record.text, previous_verdict(record.verdict) or record.verdict)
                )
                scores.setdefault(record.text, record.scores)
            if len(seen) >= limit:
                break
        if page.next_before is None:
            break
        cursor = page.next_before
    return rows, scores, skipped


def _judge(
    settings: Settings,
    scorer: Scorer,
    list_name: TeachList,
    term: str,
    clause: Clause | None,
    limits: Limits,
    rows: list[tuple[str, str, str]],
    scores: dict[str, dict[str, float]],
    shown: int,
) -> WhatIf:
    result = WhatIf()
    # The build and the matching share the interpreter lock with the event loop: while they run, the lock is
    # handed back as often as during a reload's build, so requests are slowed, not stalled.
    with short_switch_interval(), tempfile.TemporaryDirectory(prefix="moderation-whatif-") as scratch:
        copy = proposed_copy(settings.RULES_DIR, pathlib.Path(scratch), list_name, term, clause, limits)
        proposed = settings.model_copy(update={"RULES_DIR": copy, "POLICY_FILE": settings.policy_file})
        replay = LoggedScores(scorer.model_id, scorer.categories, scores)
        judge = Judge(proposed, batch_size=_CHUNK, scorer_factory=lambda: replay)
        try:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                verdicts = judge.judge([(cid, text) for cid, text, _ in chunk])
                for (cid, text, old), verdict in zip(chunk, verdicts, strict=True):
                    result.judged += 1
                    new = str(verdict["verdict"])
                    if new != old:
                        result.changed += 1
                        if len(result.flips) < shown:
                            result.flips.append(
                                Flip(cid, text[:EXCERPT_CHARS], old, new, len(text) > EXCERPT_CHARS)
                            )
        finally:
            judge.close()
    return result


async def what_if(
    settings: Settings,
    decisions: DecisionLog,
    scorer: Scorer,
    list_name: TeachList,
    term: str,
    clause: Clause | None,
    limits: Limits,
) -> WhatIf:
    """The logged comments whose verdict `term` added to the list would change (TeachRefused when the term
    cannot be added). Bounded by TEACH_WHATIF_ENTRIES; the flips listed by TEACH_WHATIF_SHOWN."""
    model_enabled = scorer.model_id != "none"
    rows, scores, skipped = await _recent(decisions, settings.TEACH_WHATIF_ENTRIES, model_enabled)
    result = await asyncio.to_thread(
        _judge, settings, scorer, list_name, term, clause, limits, rows, scores, settings.TEACH_WHATIF_SHOWN
    )
    result.skipped = skipped
    return result
