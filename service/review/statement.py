"""The statement of reasons (issue 14): what the commenter of a rejected or withheld comment is owed.

The Digital Services Act (Art. 17) asks a platform that removes or withholds what a user posted to tell them
what was decided, on which ground, the facts relied on, whether automated means detected it and decided it,
and how to seek redress; Art. 20 asks for a free complaint route decided by people. Built from the comment's
status alone (the verdict it keeps, who decided, when), so it needs nothing the retention has trimmed:

    decision             rejected | withheld (pending review: not published until a moderator decides)
    clause               the clause of the notice relied on (derogatory | personal | obscene), the one the
                         notice shown named; `clauses` every clause a reason broke
    facts                plain-language sentences: each matched word and where, each model score and its
                         threshold, a moderator's decision
    automated_detection  always true: the service's word list and model found what they found
    automated_decision   false once a moderator decided (a rejection by review or overturn, or an appeal)
    policy_version       of the verdict relied on
    decided_at           when the decision standing (or, while an appeal waits, the one appealed) was made
    redress              how to appeal: the endpoint, the deadline, whether already appealed, free, decided by
                         a person

No web framework here: the API answers it as JSON, the web layer renders it as a page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from service.moderation.types import NOTICE_ORDER, Clause, Reason, Verdict, WordMatch
from service.review.models import (
    APPEALABLE,
    appeal_pending,
    decided_ms,
    known_status,
    ms_to_datetime,
    stored_appeal,
    stored_verdict,
)
from service.review.queries import LogReader

Decision = Literal["rejected", "withheld"]

_EXPORT_PAGE = 200  # log entries per read while exporting, and statuses per round trip

#: What each clause of the notice forbids, in the words a statement uses.
CLAUSE_WORDS: dict[str, str] = {
    "derogatory": "derogatory words",
    "personal": "personal attacks",
    "obscene": "obscene words",
}

#: The model's categories as a reader says them.
CATEGORY_WORDS: dict[str, str] = {
    "toxicity": "toxicity",
    "severe_toxicity": "severe toxicity",
    "obscene": "obscene language",
    "sexual_explicit": "sexually explicit language",
    "identity_attack": "an attack on people for who they are",
    "insult": "insults",
    "threat": "threats",
}


class NoStatement(Exception):
    """The comment is published (accepted or approved): no decision restricts it, so there is no statement."""


@dataclass(frozen=True)
class Redress:
    appeal_endpoint: str
    appealable: bool
    deadline: datetime | None
    appealed: bool
    appealed_at: datetime | None
    appeal_status: Literal["none", "pending", "decided"]
    how: str
    free_of_charge: bool = True
    decided_by_human: bool = True


@dataclass(frozen=True)
class Statement:
    comment_id: str
    decision: Decision
    status: str
    clause: Clause | None
    clauses: list[Clause]
    facts: list[str]
    automated_detection: bool
    automated_decision: bool
    policy_version: str
    decided_at: datetime
    redress: Redress
    notice: str | None = None


def statement(comment_id: str, fields: dict[str, str], *, now_ms: int, window_s: int) -> Statement:
    """The statement of reasons for the comment whose stored status is `fields`; NoStatement when it is
    published (or the status holds nothing this service knows)."""
    status = known_status(fields)
    pending_appeal = appeal_pending(fields)
    if status not in ("rejected", "rejected_by_moderator", "pending_review"):
        raise NoStatement(comment_id)
    verdict = stored_verdict(fields)
    reasons = verdict.reasons if verdict else []
    moderator = bool(fields.get("decided_by"))
    decision: Decision = "withheld" if status == "pending_review" and not pending_appeal else "rejected"
    clauses = _clauses(reasons, decision, moderator)
    facts = _facts(verdict, status, moderator, pending_appeal)
    decided_at_ms = decided_ms(fields)
    return Statement(
        comment_id=comment_id,
        decision=decision,
        status=status,
        clause=clauses[0] if clauses else None,
        clauses=clauses,
        facts=facts,
        automated_detection=True,
        automated_decision=not moderator,
        policy_version=verdict.policy_version if verdict else "",
        decided_at=ms_to_datetime(decided_at_ms),
        redress=_redress(comment_id, fields, status, decided_at_ms, now_ms=now_ms, window_s=window_s),
        notice=verdict.notice if verdict else None,
    )


def _clauses(reasons: list[Reason], decision: Decision, moderator: bool) -> list[Clause]:
    """The clauses relied on, the notice's first: for the service's rejection, those its rejecting reasons
    broke (as the notice shown named them); else those any reason broke."""
    deciding = (
        [r for r in reasons if r.action == "reject"] if decision == "rejected" and not moderator else []
    )
    broken = {r.clause for r in (deciding or reasons) if r.clause is not None}
    return [c for c in NOTICE_ORDER if c in broken]


def _facts(verdict: Verdict | None, status: str, moderator: bool, pending_appeal: bool) -> list[str]:
    facts: list[str] = []
    if verdict is not None:
        facts += [_match_fact(m) for m in verdict.profanity.matches]
        if verdict.profanity.omitted:
            facts.append(f"{verdict.profanity.omitted} more listed words were found and are not shown.")
        # An ambiguous word's reason says how the model judged it ("the model agrees (obscene 0.91 ≥ 0.7)").
        facts += [
            _reason_fact(r)
            for r in verdict.reasons
            if r.source != "wordlist" or (r.code == "wordlist_ambiguous" and r.message)
        ]
    if status == "pending_review" and not pending_appeal:
        facts.append("The comment is held until a moderator has read it; it is not published meanwhile.")
    if moderator and status == "rejected_by_moderator":
        facts.append("A moderator read the comment and rejected it.")
    if pending_appeal:
        facts.append("You appealed; a moderator will read the comment and your explanation, and decide.")
    return facts


def _match_fact(match: WordMatch) -> str:
    spelled = "" if match.text.casefold() == match.term.casefold() else f', a way of writing "{match.term}"'
    return (
        f'The comment contains "{match.text}" (characters {match.start} to {match.end}){spelled}, which the '
        f"word list counts among {CLAUSE_WORDS[match.clause]}."
    )


def _reason_fact(reason: Reason) -> str:
    if reason.code == "model_score" and reason.score is not None and reason.category:
        what = CATEGORY_WORDS.get(reason.category, reason.category.replace("_", " "))
        clause = f" ({CLAUSE_WORDS[reason.clause]})" if reason.clause else ""
        limit = (
            f", at or above the {reason.action} threshold of {reason.threshold:.2f}"
            if reason.threshold
            else ""
        )
        return f"An automated model rated the comment {reason.score:.2f} out of 1 for {what}{clause}{limit}."
    return reason.message or f"The comment was held for a moderator ({reason.code.replace('_', ' ')})."


def _redress(
    comment_id: str, fields: dict[str, str], status: str, decided_at_ms: int, *, now_ms: int, window_s: int
) -> Redress:
    appeal = stored_appeal(fields)
    endpoint = f"/v1/comments/{comment_id}/appeal"
    if appeal is not None:
        pending = appeal_pending(fields)
        return Redress(
            appeal_endpoint=endpoint,
            appealable=False,
            deadline=None,
            appealed=True,
            appealed_at=appeal.appealed_at,
            appeal_status="pending" if pending else "decided",
            how=(
                "Your appeal is with a moderator, who will decide it; their decision is final."
                if pending
                else "A moderator decided your appeal; a comment can be appealed once."
            ),
        )
    if status not in APPEALABLE:
        return Redress(
            appeal_endpoint=endpoint,
            appealable=False,
            deadline=None,
            appealed=False,
            appealed_at=None,
            appeal_status="none",
            how="No appeal is needed: a moderator will read the comment and decide.",
        )
    deadline_ms = decided_at_ms + window_s * 1000
    open_ = now_ms <= deadline_ms
    return Redress(
        appeal_endpoint=endpoint,
        appealable=open_,
        deadline=ms_to_datetime(deadline_ms),
        appealed=False,
        appealed_at=None,
        appeal_status="none",
        how=(
            "Appeal free of charge, once, with a short explanation: a moderator (a person) reads the comment "
            "and your explanation and decides."
            if open_
            else "The time to appeal has passed."
        ),
    )


async def export_statements(
    reader: LogReader, *, since_ms: int | None, until_ms: int | None, limit: int, now_ms: int, window_s: int
) -> AsyncIterator[Statement]:
    """The statements of the comments whose verdicts the log holds from `since_ms` to `until_ms` (newest
    first), each once, at most `limit`: read a page at a time, so memory holds one page and the ids seen. A
    comment whose status is gone (past the retention) or published has none and is skipped."""
    seen: set[str] = set()
    given = 0
    before = None
    while True:
        page = await reader.entries(
            before=before, kind="verdict", since_ms=since_ms, until_ms=until_ms, page_size=_EXPORT_PAGE
        )
        ids = list(dict.fromkeys(r.comment_id for r in page.records if r.comment_id not in seen))
        seen.update(ids)
        for comment_id, fields in zip(ids, await reader.store.get_statuses(ids), strict=True):
            if fields is None:
                continue
            try:
                found = statement(comment_id, fields, now_ms=now_ms, window_s=window_s)
            except NoStatement:
                continue
            yield found
            given += 1
            if given >= limit:
                return
        if page.next_before is None:
            return
        before = page.next_before
