"""The moderators' pages and their forms: /dashboard (overview), /dashboard/rejections, /dashboard/review,
POST /dashboard/review/{id} (decide) and POST /dashboard/comments/{id}/overturn.

Every page needs the moderator's session (PageSession) and every form the session's CSRF token (CheckedForm);
a form's outcome comes back as a flash message on the page it returns to.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeGuard, get_args
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.api.deps import DecisionsDep, PipelineDep
from service.api.keys import SiteKeysDep
from service.moderation.types import ACTIONS, CLAUSES, VERDICTS
from service.review.models import COUNTED, CommentNotFound, DecisionConflict, ModeratorAction
from service.store.base import StoreUnavailable
from service.web.charts import stacked_bars
from service.web.deps import CheckedForm, PageSession
from service.web.responses import flash_redirect, local_path, page_cursor, render

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

_REJECTIONS_PAGE_SIZE = 25
_QUEUE_SHOWN = 6  # the comment under review and the next few, so the moderator sees what is coming
_NOTE_MAX_CHARS = 2000  # as the JSON API's note field allows


def _ratio(hits: int, misses: int) -> str:
    return f"{hits / (hits + misses):.0%}" if hits + misses else "—"


@router.get("")
async def overview(
    request: Request, session: PageSession, pipeline: PipelineDep, decisions: DecisionsDep
) -> Response:
    counts = await decisions.counts()
    verdicts = {v: f"verdict:{v}" for v in VERDICTS}
    rows = [
        (f"{d}:{v}", f"{d} {v}".replace("verdict ", "").replace("decision ", "moderator: "))
        for d, values in COUNTED
        if d != "cache"
        for v in values
    ]
    rules = pipeline.rules.current()
    context: dict[str, Any] = {
        "session": session,
        "page": "overview",
        "pending": await decisions.queue_size(),
        "log_length": await decisions.log_length(),
        "counts": counts,
        "rows": rows,
        "hit_ratio_hour": _ratio(counts.last_hour("cache:hit"), counts.last_hour("cache:miss")),
        "hit_ratio_day": _ratio(counts.last_day("cache:hit"), counts.last_day("cache:miss")),
        "model": pipeline.scorer.model_id,
        "policy_version": rules.policy.version,
        "wordlist_version": rules.wordlist.version,
        "store": pipeline.store.describe(),
        "hour_chart": stacked_bars(
            counts.minute_starts,
            {v: counts.minutes[k] for v, k in verdicts.items()},
            label_format="%H:%M",
            tick_every=10,
        ),
        "day_chart": stacked_bars(
            counts.hour_starts,
            {v: counts.hours[k] for v, k in verdicts.items()},
            label_format="%H:00",
            tick_every=4,
        ),
        "clause_chart": stacked_bars(
            counts.hour_starts,
            {c: counts.hours[f"clause:{c}"] for c in CLAUSES},
            label_format="%H:00",
            tick_every=4,
        ),
    }
    return render(request, "overview.html", context)


def _parse_local(value: str | None) -> int | None:
    """A datetime-local value (read as UTC) as ms since the epoch; None when empty or unreadable."""
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        return None


@router.get("/rejections")
async def rejections(
    request: Request,
    session: PageSession,
    decisions: DecisionsDep,
    site_keys: SiteKeysDep,
    verdict: str = "reject",
    clause: str | None = None,
    article: str | None = None,
    site: str | None = None,
    since: str | None = None,
    until: str | None = None,
    before: str | None = None,
) -> Response:
    # A page's filters come from links and hand-edited URLs: anything unknown falls back to no filter.
    verdict = verdict if verdict in ACTIONS else "reject"
    clause = clause if clause in CLAUSES else None
    cursor = page_cursor(before)
    if cursor is None:
        before = None  # a stale or hand-edited link: start from the newest entries
    page = await decisions.entries(
        before=cursor,
        kind="verdict",
        verdict=verdict,
        clause=clause,
        article_id=article or None,
        site=site or None,
        since_ms=_parse_local(since),
        until_ms=_parse_local(until),
        page_size=_REJECTIONS_PAGE_SIZE,
    )
    filters = {
        "verdict": verdict,
        "clause": clause,
        "article": article,
        "site": site,
        "since": since,
        "until": until,
    }
    query = {k: v for k, v in filters.items() if v}
    older_url = "/dashboard/rejections?" + urlencode({**query, "before": page.next_before or ""})
    back = "/dashboard/rejections?" + urlencode({**query, **({"before": before} if before else {})})
    context = {
        "session": session,
        "page": "rejections",
        "pending": await decisions.queue_size(),
        "filters": filters,
        "clauses": CLAUSES,
        "sites": await _known_sites(site_keys),
        "log_page": page,
        "statuses": await decisions.statuses([r.comment_id for r in page.records]),
        "older_url": older_url,
        "back": back,
    }
    return render(request, "rejections.html", context)


async def _known_sites(site_keys: SiteKeysDep) -> list[str]:
    """The sites with keys, offered in the site filter; none when the keys cannot be read (the filter still
    takes a typed name)."""
    try:
        return await site_keys.sites()
    except StoreUnavailable:
        return []


@router.get("/review")
async def review_page(request: Request, session: PageSession, decisions: DecisionsDep) -> Response:
    items = await decisions.queue(0, _QUEUE_SHOWN)
    context = {
        "session": session,
        "page": "review",
        "pending": await decisions.queue_size(),
        "item": items[0] if items else None,
        "upcoming": items[1:],
    }
    return render(request, "review.html", context)


def _is_action(value: str | None) -> TypeGuard[ModeratorAction]:
    return value in get_args(ModeratorAction)


def _refusal(comment_id: str, exc: CommentNotFound | DecisionConflict) -> str:
    return str(exc) if isinstance(exc, DecisionConflict) else f"Comment {comment_id} is unknown."


@router.post("/review/{comment_id}")
async def review_decide(
    request: Request, comment_id: str, session: PageSession, form: CheckedForm, decisions: DecisionsDep
) -> Response:
    decision = form.get("decision")
    if not _is_action(decision):
        return flash_redirect(request, "/dashboard/review", "Choose approve or reject.", "error")
    try:
        await decisions.decide(comment_id, decision, session.user, form.get("note", "")[:_NOTE_MAX_CHARS])
    except (CommentNotFound, DecisionConflict) as exc:
        return flash_redirect(request, "/dashboard/review", _refusal(comment_id, exc), "error")
    done = "Approved" if decision == "approve" else "Rejected"
    return flash_redirect(request, "/dashboard/review", f"{done} comment {comment_id}.")


@router.post("/comments/{comment_id}/overturn")
async def overturn(
    request: Request, comment_id: str, session: PageSession, form: CheckedForm, decisions: DecisionsDep
) -> Response:
    back = local_path(form.get("back"), "/dashboard/rejections")
    try:
        status = await decisions.overturn(comment_id, session.user, form.get("note", "")[:_NOTE_MAX_CHARS])
    except (CommentNotFound, DecisionConflict) as exc:
        return flash_redirect(request, back, _refusal(comment_id, exc), "error")
    return flash_redirect(request, back, f"Comment {comment_id} is now {status.status}.")
