"""The review queue (moderators): GET /v1/review, POST /v1/review/{id}, and GET /v1/review/log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from service.api.comments import NOT_FOUND, ModeratedStatusOut, moderated_out
from service.api.deps import AdminDep, DecisionsDep
from service.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse
from service.moderation.types import Action, Reason, WordMatch
from service.review.models import CommentNotFound, DecisionConflict, LogRecord, ModeratorAction
from service.store.base import LogCursor

router = APIRouter(prefix="/v1/review", tags=["review"])


class LogEntryOut(BaseModel):
    log_id: str
    kind: str = Field(description="verdict (the service's) or moderator (a moderator's decision)")
    comment_id: str
    at: datetime
    verdict: str
    text: str = ""
    text_omitted: int = Field(
        default=0,
        description="Characters cut off the end of `text` in the log (MODERATION_LOG_TEXT_MAX_CHARS).",
    )
    article_id: str | None = None
    author_id: str | None = None
    site: str | None = Field(
        default=None, description="The site whose API key the comment came with; null: anonymous."
    )
    reasons: list[Reason] = Field(default_factory=list)
    matches: list[WordMatch] = Field(default_factory=list)
    scores: dict[str, float] = Field(default_factory=dict)
    policy_version: str = ""
    model: str = ""
    action: str = ""
    overturn: bool = False
    previous_status: str = ""
    status: str = ""
    moderator: str = ""
    note: str = ""
    appeal: bool = Field(
        default=False,
        description="A commenter's appeal: the queued comment was appealed, or this moderator decided one.",
    )
    appeal_explanation: str = Field(default="", description="What the commenter wrote with the appeal.")
    appealed_at: datetime | None = None


class QueueItemOut(BaseModel):
    comment_id: str
    entered_at: datetime
    overflow: bool = Field(default=False, description="In the overflow: the full queue moved it out.")
    entry: LogEntryOut


class QueueOut(BaseModel):
    pending: int = Field(description="Pending reviews: the queue's and its overflow's.")
    overflow: int = Field(
        default=0, description="Of those, in the overflow (past MODERATION_REVIEW_QUEUE_MAX); listed last."
    )
    overflow_lost: int = Field(
        default=0,
        description="Pending reviews that fell out of the full overflow (MODERATION_REVIEW_OVERFLOW_MAX), "
        "ever: never published, still decidable by id until they expire.",
    )
    items: list[QueueItemOut]


class LogPageOut(BaseModel):
    entries: list[LogEntryOut]
    next_before: str | None = Field(description="Pass as `before` for the next, older page; null at the end.")


class DecisionIn(BaseModel):
    decision: ModeratorAction
    note: str | None = Field(default=None, max_length=2000)


def entry_out(r: LogRecord) -> LogEntryOut:
    fields: dict[str, Any] = {k: v for k, v in vars(r).items() if k in LogEntryOut.model_fields}
    return LogEntryOut(log_id=r.id, **fields)


@router.get(
    "", response_model=QueueOut, summary="Pending reviews, oldest first (the queue, then its overflow)"
)
async def queue(
    _: AdminDep,
    decisions: DecisionsDep,
    # Bounded: Redis reads indexes as 64-bit integers and refuses larger ones (found by tests/api/test_fuzz.py).
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
    limit: int = Query(default=20, ge=1, le=200),
) -> QueueOut:
    items = await decisions.queue(offset, limit)
    return QueueOut(
        pending=await decisions.queue_size(),
        overflow=await decisions.overflow_size(),
        overflow_lost=await decisions.overflow_lost(),
        items=[
            QueueItemOut(
                comment_id=i.comment_id,
                entered_at=i.entered_at,
                overflow=i.overflow,
                entry=entry_out(i.record),
            )
            for i in items
        ],
    )


@router.get("/log", response_model=LogPageOut, summary="The decision log, newest first")
async def decision_log(
    _: AdminDep,
    decisions: DecisionsDep,
    before: str | None = Query(default=None, description="A log_id: start after it (exclusive)."),
    kind: Literal["verdict", "moderator"] | None = None,
    verdict: Action | None = None,
    clause: str | None = None,
    article_id: str | None = None,
    site: str | None = Query(default=None, description="Only the entries of this site (its API keys')."),
    limit: int = Query(default=50, ge=1, le=500),
) -> LogPageOut:
    try:
        cursor = LogCursor.parse(before) if before is not None else None
    except ValueError:
        raise ApiError(
            422, "invalid_field", "`before` must be a log_id such as 1717000000000-0.", "before"
        ) from None
    page = await decisions.entries(
        before=cursor,
        kind=kind,
        verdict=verdict,
        clause=clause,
        article_id=article_id,
        site=site,
        page_size=limit,
    )
    next_before = str(page.next_before) if page.next_before is not None else None
    return LogPageOut(entries=[entry_out(r) for r in page.records], next_before=next_before)


@router.post(
    "/{comment_id}",
    response_model=ModeratedStatusOut,
    summary="Approve or reject a pending comment",
    responses={**ERROR_RESPONSES, **NOT_FOUND, 409: {"model": ErrorResponse, "description": "Not pending."}},
)
async def decide(
    comment_id: str, body: DecisionIn, session: AdminDep, decisions: DecisionsDep
) -> ModeratedStatusOut:
    try:
        status = await decisions.decide(comment_id, body.decision, session.user, body.note or "")
    except CommentNotFound:
        raise ApiError(404, "comment_not_found", f"No status for comment {comment_id}.") from None
    except DecisionConflict as exc:
        raise ApiError(409, "not_pending", str(exc)) from None
    return moderated_out(status)
