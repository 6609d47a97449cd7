"""/dashboard/suggestions: the scores sites suggested through Perspective's comments:suggestscore, newest
first, each with the comment as the site sent it (service/review/suggestions.py keeps them)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from service.api.deps import DecisionsDep, SuggestionsDep
from service.web.deps import PageSession
from service.web.responses import page_cursor, render

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)

_PAGE_SIZE = 25


@router.get("/suggestions")
async def suggestions_page(
    request: Request,
    session: PageSession,
    decisions: DecisionsDep,
    suggestions: SuggestionsDep,
    before: str | None = None,
) -> Response:
    cursor = page_cursor(before)
    page = await suggestions.page(cursor, _PAGE_SIZE)
    context = {
        "session": session,
        "page": "suggestions",
        "pending": await decisions.queue_size(),
        "kept": await suggestions.length(),
        "suggestion_page": page,
        "older_url": "/dashboard/suggestions?" + urlencode({"before": str(page.next_before or "")}),
    }
    return render(request, "suggestions.html", context)
