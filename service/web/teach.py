"""Moderators teach the word list (issue 11, item 7): GET /dashboard/teach (the proposal and its what-if) and
POST /dashboard/teach (the confirmed addition).

The rejections page links here after a moderator overturns a word-list rejection (list=allow: the words the
list matched, as the comment wrote them, offered for site-allow.txt) and after a moderator rejects a comment
the list missed (list=block: a term the moderator types, for site-block.txt). The page shows what the term
would change among the most recent logged verdicts (service/rescore/whatif.py) before anything is written;
confirming needs the session's CSRF token, writes the file atomically (service/wordlist/teach.py), records
who added what where in the decision log, and the running RulesWatcher picks the file up within seconds.

One proposal and one write at a time (a what-if builds a word list, a second or more of CPU): a second
moderator asking meanwhile is told to try again. Where the rules folder is not writable (Docker mounts
rules/ read-only) the page says so and offers no confirmation.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from service.api.deps import DecisionsDep, PipelineDep, SettingsDep
from service.config import Settings
from service.moderation.types import CLAUSES, Clause
from service.rescore.whatif import WhatIf, what_if
from service.review.models import LogRecord
from service.store.base import StoreUnavailable
from service.web.deps import CheckedForm, PageSession
from service.web.responses import flash_redirect, render
from service.wordlist.teach import (
    LIST_FILES,
    Limits,
    TeachList,
    TeachRefused,
    add_term,
    normalise_term,
    rules_writable,
)

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

# Not asyncio locks: the app may run on more than one loop in a process (tests do); a busy lock refuses.
_judging = threading.Lock()
_writing = threading.Lock()
_BUSY = "Another moderator's proposal is being {}; try again in a moment."


def _limits(settings: Settings) -> Limits:
    return Limits(
        settings.TEACH_TERM_MAX_CHARS, settings.TEACH_FILE_MAX_ENTRIES, settings.TEACH_FILE_MAX_BYTES
    )


def _list_named(value: str | None) -> TeachList:
    return "block" if value == "block" else "allow"


def _clause_named(value: str | None) -> Clause | None:
    return next((c for c in get_args(Clause) if c == value), None)


def _word_around(text: str, start: int, end: int) -> str:
    """The whole word a match lies in: letters, digits and the leet marks that words are written with."""

    def inside(char: str) -> bool:
        return char.isalnum() or char in "@$*!'_-"

    while start > 0 and inside(text[start - 1]):
        start -= 1
    while end < len(text) and inside(text[end]):
        end += 1
    return text[start:end]


def offered_terms(record: LogRecord, max_chars: int) -> list[str]:
    """For site-allow.txt: each word-list match as the comment wrote it, the whole word first ("saltwater",
    which protects that word) then the matched span ("twat", which allows the term everywhere)."""
    offered: list[str] = []
    for match in record.matches:
        if match.end > len(record.text):
            continue
        for raw in (_word_around(record.text, match.start, match.end), record.text[match.start : match.end]):
            try:
                term = normalise_term(raw, max_chars)
            except TeachRefused:
                continue
            if term not in offered:
                offered.append(term)
    return offered


@router.get("/teach")
async def teach_page(
    request: Request,
    session: PageSession,
    settings: SettingsDep,
    decisions: DecisionsDep,
    pipeline: PipelineDep,
    comment: str = "",
    list_param: Annotated[str, Query(alias="list")] = "allow",
    term: str = "",
    clause: str = "",
) -> Response:
    list_name = _list_named(list_param)
    chosen_clause = _clause_named(clause) or ("personal" if list_name == "block" else None)
    record: LogRecord | None = None
    error: str | None = None
    result: WhatIf | None = None
    normalised = ""
    try:
        record = await decisions.logged_verdict(comment) if comment else None
    except (StoreUnavailable, ValueError):
        record = None
    writable = await asyncio.to_thread(rules_writable, settings.RULES_DIR)
    if term:
        try:
            normalised = normalise_term(term, settings.TEACH_TERM_MAX_CHARS)
            if not _judging.acquire(blocking=False):
                raise TeachRefused(_BUSY.format("judged"))
            try:
                result = await what_if(
                    settings,
                    decisions,
                    pipeline.scorer,
                    list_name,
                    normalised,
                    chosen_clause,
                    _limits(settings),
                )
            finally:
                _judging.release()
        except TeachRefused as exc:
            error = str(exc)
        except StoreUnavailable:
            error = "The decision log cannot be read now; try again later."
    context: dict[str, Any] = {
        "session": session,
        "page": "rejections",
        "pending": await decisions.queue_size(),
        "comment": comment,
        "record": record,
        "list_name": list_name,
        "file_name": LIST_FILES[list_name],
        "offered": offered_terms(record, settings.TEACH_TERM_MAX_CHARS) if record else [],
        "term": normalised or term,
        "clause": chosen_clause,
        "clauses": CLAUSES,
        "error": error,
        "result": result,
        "writable": writable,
        "whatif_entries": settings.TEACH_WHATIF_ENTRIES,
        "max_chars": settings.TEACH_TERM_MAX_CHARS,
    }
    return render(request, "teach.html", context, status_code=200)


@router.post("/teach")
async def teach_confirm(
    request: Request,
    session: PageSession,
    form: CheckedForm,
    settings: SettingsDep,
    decisions: DecisionsDep,
) -> Response:
    list_name = _list_named(form.get("list"))
    clause = _clause_named(form.get("clause")) if list_name == "block" else None
    comment = form.get("comment", "")[:200]
    back = "/dashboard/rejections"
    if not await asyncio.to_thread(rules_writable, settings.RULES_DIR):
        return flash_redirect(
            request,
            back,
            "The rules are read-only here: nothing was written (edit them where they live).",
            "error",
        )
    if not _writing.acquire(blocking=False):
        return flash_redirect(request, back, _BUSY.format("written"), "error")
    try:
        term = normalise_term(form.get("term", ""), settings.TEACH_TERM_MAX_CHARS)
        path = await asyncio.to_thread(
            add_term, settings.RULES_DIR, list_name, term, clause, _limits(settings)
        )
    except TeachRefused as exc:
        return flash_redirect(request, back, f"Nothing was written: {exc}", "error")
    finally:
        _writing.release()
    try:
        await decisions.record_rules_change(session.user, term, path.name, comment)
    except StoreUnavailable:
        return flash_redirect(
            request,
            back,
            f"Added {term!r} to {path.name}, but the decision log could not record it (Redis unavailable).",
            "error",
        )
    return flash_redirect(
        request, back, f"Added {term!r} to {path.name}; the word list reloads within a few seconds."
    )
