"""The statement of reasons as people read it (issue 14): the commenter's page, and the moderators' export.

    GET /v1/comments/{id}/statement.html?appeal_token=…   the page the widget links to: server-rendered, no
                                                          script, under the service's one CSP; the same
                                                          statement as GET /v1/comments/{id}/statement
    GET /dashboard/statements.jsonl?since=…&until=…       (moderators) one statement per line, JSON, for the
                                                          comments whose verdicts fell in the range (UTC,
                                                          datetime-local as the rejections page takes it),
                                                          newest first, streamed, at most
                                                          STATEMENT_EXPORT_MAX; past it a last line
                                                          {"truncated": true, "limit": N} says so

The page answers a wrong token exactly as an unknown id (404, the same page), and a published comment with a
409 page: both short, in the page's own shape, never the JSON envelope.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from service.api.appeals import APPEAL_TOKEN_HEADER, StatementOut, given_token, read_statement
from service.api.deps import DecisionsDep, SettingsDep
from service.api.errors import ApiError
from service.review.statement import CLAUSE_WORDS
from service.web.deps import PageSession
from service.web.responses import render

router = APIRouter(include_in_schema=False)

_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/v1/comments/{comment_id}/statement.html")
async def statement_page(
    request: Request,
    comment_id: str,
    decisions: DecisionsDep,
    settings: SettingsDep,
    appeal_token: str | None = Query(default=None),
    header_token: str | None = Header(default=None, alias=APPEAL_TOKEN_HEADER),
) -> Response:
    try:
        token = given_token(header_token, appeal_token)
        found = await read_statement(decisions, comment_id, token, settings.appeal_window_s)
    except ApiError as exc:
        context: dict[str, Any] = {"comment_id": comment_id, "problem": exc.code, "message": exc.message}
        response = render(request, "statement.html", context, status_code=exc.status)
    else:
        context = {"comment_id": comment_id, "s": found, "clause_words": CLAUSE_WORDS, "problem": None}
        response = render(request, "statement.html", context)
    response.headers.update(_NO_STORE)
    return response


def _utc_ms(value: str | None, name: str) -> int | None:
    """A datetime-local value (read as UTC, as the rejections page reads its filter) as ms since the epoch."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(
            422, "invalid_field", f"{name} is not a date and time (YYYY-MM-DDTHH:MM).", name
        ) from None
    return int(parsed.replace(tzinfo=parsed.tzinfo or UTC).timestamp() * 1000)


@router.get("/dashboard/statements.jsonl")
async def export(
    session: PageSession,
    decisions: DecisionsDep,
    settings: SettingsDep,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    since_ms, until_ms = _utc_ms(since, "since"), _utc_ms(until, "until")
    limit = settings.STATEMENT_EXPORT_MAX

    async def lines() -> AsyncIterator[bytes]:
        written = 0
        async for found in decisions.statements(
            since_ms=since_ms, until_ms=until_ms, limit=limit + 1, window_s=settings.appeal_window_s
        ):
            if written == limit:
                # One more than the cap exists: the file says so, and a narrower range gets the rest.
                marker = {"truncated": True, "limit": limit}
                yield (json.dumps(marker) + "\n").encode()
                return
            yield StatementOut.model_validate(found).model_dump_json().encode("utf-8") + b"\n"
            written += 1

    name = "statements.jsonl"
    headers = {**_NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(lines(), media_type="application/x-ndjson", headers=headers)
