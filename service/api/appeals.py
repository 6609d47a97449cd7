"""The commenter's side of a decision (issue 14): POST /v1/comments/{id}/appeal and, in statements.py's terms,
GET /v1/comments/{id}/statement.

Both are authorised by the comment's appeal token, which only the verdict of the comment's first writer
carries, and only for a reject or a review. As with the status token, a wrong token answers exactly as an
unknown id does (404 comment_not_found, at the same cost), so trying ids tells nothing about which exist.

An appeal is allowed once per comment, for a rejection (the service's or a moderator's), within
APPEAL_WINDOW_DAYS of it (no longer than LOG_RETENTION_DAYS: see Settings). A comment still pending review
needs none: it is already awaiting a moderator (409 pending_review). The appealed comment waits in the review
queue, marked as an appeal, and a moderator's decision there is final: it goes out on the webhook with
"appeal": true and is logged as a moderator's decision.

    202  the comment's status, now pending_review, with "appeal": {"explanation", "appealed_at"}
    404  comment_not_found       unknown id, past the retention, or not its appeal token
    409  already_appealed        once per comment
    409  pending_review          a moderator will decide it anyway
    409  not_appealable          it was accepted or approved: nothing to contest
    409  status_changed          a moderator decided it while the appeal was being made
    410  appeal_window_closed    past the window
    422  explanation_too_long / missing_field / invalid_field
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from service.api.comments import StatusOut, status_out
from service.api.deps import DecisionsDep, SettingsDep
from service.api.errors import ApiError, ErrorResponse
from service.review.models import AppealRefused, CommentNotFound, CommentStatus

router = APIRouter(prefix="/v1/comments", tags=["appeals"])

APPEAL_TOKEN_HEADER = "X-Appeal-Token"


class AppealIn(BaseModel):
    appeal_token: str = Field(description="The appeal_token of the comment's verdict.")
    explanation: str = Field(
        description="Why the decision is wrong, in the commenter's words (1 to APPEAL_MAX_CHARS characters)."
    )


class AppealOut(BaseModel):
    explanation: str
    appealed_at: datetime


class AppealedStatusOut(StatusOut):
    appeal: AppealOut | None = Field(default=None, description="The commenter's appeal, once made.")


def appealed_out(s: CommentStatus) -> AppealedStatusOut:
    appeal = (
        AppealOut(explanation=s.appeal.explanation, appealed_at=s.appeal.appealed_at) if s.appeal else None
    )
    return AppealedStatusOut(**status_out(s).model_dump(), appeal=appeal)


def not_found(comment_id: str) -> ApiError:
    # The same words for an unknown id and a wrong token: the answer must not say which it was.
    return ApiError(
        404,
        "comment_not_found",
        f"No comment {comment_id} with that appeal token (unknown id, past the retention, or not its "
        "appeal_token).",
    )


_REFUSALS: dict[str, tuple[int, str]] = {
    "already_appealed": (409, "already_appealed"),
    "pending_review": (409, "pending_review"),
    "not_appealable": (409, "not_appealable"),
    "status_changed": (409, "status_changed"),
    "window_passed": (410, "appeal_window_closed"),
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "Unknown id, or not the comment's appeal token."},
    409: {"model": ErrorResponse, "description": "Appealed already, pending review, or not a rejection."},
    410: {"model": ErrorResponse, "description": "The time to appeal has passed."},
    422: {"model": ErrorResponse, "description": "The explanation is empty or too long."},
}


@router.post(
    "/{comment_id}/appeal",
    status_code=202,
    response_model=AppealedStatusOut,
    summary="Appeal a rejection (the commenter, with the verdict's appeal token)",
    responses=_ERRORS,
)
async def appeal(
    comment_id: str, body: AppealIn, decisions: DecisionsDep, settings: SettingsDep
) -> AppealedStatusOut:
    explanation = body.explanation.strip()
    if not explanation:
        raise ApiError(422, "missing_field", "Say why the decision is wrong in 'explanation'.", "explanation")
    if len(explanation) > settings.APPEAL_MAX_CHARS:
        raise ApiError(
            422,
            "explanation_too_long",
            f"The explanation is {len(explanation)} characters; at most {settings.APPEAL_MAX_CHARS} are read.",
            "explanation",
        )
    try:
        status = await decisions.appeal(
            comment_id, body.appeal_token, explanation, window_s=settings.appeal_window_s
        )
    except CommentNotFound:
        raise not_found(comment_id) from None
    except AppealRefused as exc:
        code, name = _REFUSALS[exc.reason]
        raise ApiError(code, name, str(exc)) from None
    return appealed_out(status)
