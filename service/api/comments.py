"""GET /v1/comments/{id} (a comment's status, for its status token) and POST /v1/comments/{id}/overturn
(moderators).

The status read needs no login: the site's server (or its widget) asks it to learn whether to publish a
comment, and it tells nothing but the status, never the text, the reasons or the moderator. It needs the
comment's status token, which only the verdict of the comment's first writer carries (ids are the site's
own and easily guessed; 128 random bits are not). A wrong token answers exactly as an unknown id does
(404), so that trying ids tells nothing about which exist; a missing token is a 422 whatever the id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Header, Query
from pydantic import BaseModel, Field

from service.api.deps import AdminDep, DecisionsDep
from service.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse
from service.review.models import CommentNotFound, CommentStatus, DecisionConflict

router = APIRouter(prefix="/v1/comments", tags=["comments"])


class StatusOut(BaseModel):
    id: str
    status: str = Field(description="accepted | rejected | pending_review | approved | rejected_by_moderator")
    publish: bool | None = Field(
        description="Whether to show the comment; null while it waits for a moderator."
    )
    final: bool = Field(description="False only while the comment is pending review.")
    updated_at: datetime


class ModeratedStatusOut(StatusOut):
    verdict: str = Field(description="The service's own verdict: accept | review | reject.")
    decided_by: str | None = None
    note: str | None = None
    site: str | None = Field(default=None, description="The site whose API key the comment came with.")


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


def status_out(s: CommentStatus) -> StatusOut:
    return StatusOut(
        id=s.id, status=s.status, publish=s.publish, final=s.publish is not None, updated_at=s.updated_at
    )


def moderated_out(s: CommentStatus) -> ModeratedStatusOut:
    return ModeratedStatusOut(
        **status_out(s).model_dump(), verdict=s.verdict, decided_by=s.decided_by, note=s.note, site=s.site
    )


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No status is known for that comment id."}
}


TOKEN_HEADER = "X-Status-Token"


@router.get(
    "/{comment_id}",
    response_model=StatusOut,
    summary="A comment's status (with its status token)",
    responses={
        **NOT_FOUND,
        422: {"model": ErrorResponse, "description": "No status token was sent."},
    },
)
async def get_status(
    comment_id: str,
    decisions: DecisionsDep,
    token: str | None = Query(
        default=None,
        description=f"The verdict's status_token (the {TOKEN_HEADER} header keeps it out of URLs).",
    ),
    header_token: str | None = Header(
        default=None, alias=TOKEN_HEADER, description="The verdict's status_token."
    ),
) -> StatusOut:
    given = header_token if header_token is not None else token
    if not given:
        raise ApiError(
            422,
            "missing_field",
            f"Send the comment's status_token (from its verdict) in the {TOKEN_HEADER} header or as ?token=.",
            "token",
        )
    try:
        return status_out(await decisions.public_status(comment_id, given))
    except CommentNotFound:
        raise ApiError(
            404,
            "comment_not_found",
            # The same words for an unknown id and a wrong token: the answer must not say which it was.
            f"No status for comment {comment_id} with that token (unknown id, past the retention, or not "
            "its status_token).",
        ) from None


@router.post(
    "/{comment_id}/overturn",
    response_model=ModeratedStatusOut,
    summary="Reverse a comment's final status (moderators)",
    responses={
        **ERROR_RESPONSES,
        **NOT_FOUND,
        409: {"model": ErrorResponse, "description": "Pending review, or changed by someone else meanwhile."},
    },
)
async def overturn(
    comment_id: str, session: AdminDep, decisions: DecisionsDep, body: NoteIn | None = Body(default=None)
) -> ModeratedStatusOut:
    try:
        status = await decisions.overturn(comment_id, session.user, (body.note if body else None) or "")
    except CommentNotFound:
        raise ApiError(404, "comment_not_found", f"No status for comment {comment_id}.") from None
    except DecisionConflict as exc:
        # Pending review (decide it in the queue), or changed by someone else since it was read.
        code = "pending_review" if exc.status == "pending_review" else "status_changed"
        raise ApiError(409, code, str(exc)) from None
    return moderated_out(status)
