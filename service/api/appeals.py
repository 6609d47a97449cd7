"""The commenter's side of a decision (issue 14): POST /v1/comments/{id}/appeal and GET
/v1/comments/{id}/statement (its page, statement.html, is the web layer's: service/web/statement.py).

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

The statement of reasons (service/review/statement.py says what each field means) answers 200 for a rejected
or withheld comment, 404 as above, 409 no_statement for a published one (accepted or approved), and 422 when
no token is sent. The token goes in the X-Appeal-Token header, or as ?appeal_token= where a link must carry
it (the log masks it). Answers carry Cache-Control: no-store: they quote the commenter's words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from service.api.comments import StatusOut, status_out
from service.api.deps import DecisionsDep, SettingsDep
from service.api.errors import ApiError, ErrorResponse
from service.moderation.types import Clause
from service.review.log import DecisionLog
from service.review.models import AppealRefused, CommentNotFound, CommentStatus
from service.review.statement import NoStatement, Statement

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
    comment_id: str, body: AppealIn, decisions: DecisionsDep, settings: SettingsDep, response: Response
) -> AppealedStatusOut:
    response.headers["Cache-Control"] = "no-store"
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


class RedressOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    appeal_endpoint: str = Field(description="POST here with the appeal token and an explanation.")
    appealable: bool = Field(description="Whether an appeal is open now.")
    deadline: datetime | None = Field(description="The last moment to appeal; null when none is open.")
    appealed: bool = Field(description="Whether the commenter has appealed (once per comment).")
    appealed_at: datetime | None = None
    appeal_status: Literal["none", "pending", "decided"]
    how: str = Field(description="How to seek redress, in a sentence for the commenter.")
    free_of_charge: bool = True
    decided_by_human: bool = Field(default=True, description="An appeal is decided by a moderator, a person.")


class StatementOut(BaseModel):
    """The statement of reasons (service/review/statement.py)."""

    model_config = ConfigDict(from_attributes=True)

    comment_id: str
    decision: Literal["rejected", "withheld"] = Field(
        description="rejected: not published; withheld: not published until a moderator has read it."
    )
    status: str = Field(description="The comment's status (as GET /v1/comments/{id} says).")
    clause: Clause | None = Field(
        description="The clause of the notice relied on, as the notice shown named it."
    )
    clauses: list[Clause] = Field(description="Every clause the reasons broke, the notice's order.")
    facts: list[str] = Field(description="The facts relied on, in plain language.")
    automated_detection: bool
    automated_decision: bool = Field(description="False once a moderator decided.")
    policy_version: str
    decided_at: datetime = Field(
        description="When the decision (the one appealed, while an appeal waits) was made."
    )
    redress: RedressOut
    notice: str | None = Field(default=None, description="The notice the verdict showed the commenter.")


def given_token(header_token: str | None, query_token: str | None) -> str:
    """The appeal token sent (the header first); 422 when none was."""
    given = header_token if header_token is not None else query_token
    if not given:
        raise ApiError(
            422,
            "missing_field",
            f"Send the comment's appeal_token (from its verdict) in the {APPEAL_TOKEN_HEADER} header or as "
            "?appeal_token=.",
            "appeal_token",
        )
    return given


async def read_statement(decisions: DecisionLog, comment_id: str, token: str, window_s: int) -> Statement:
    """The statement, or the ApiError to answer (404 for an unknown id or a wrong token, 409 when published)."""
    try:
        return await decisions.statement(comment_id, token, window_s=window_s)
    except CommentNotFound:
        raise not_found(comment_id) from None
    except NoStatement:
        raise ApiError(
            409,
            "no_statement",
            f"Comment {comment_id} is published: no decision restricts it, so there is no statement of reasons.",
        ) from None


@router.get(
    "/{comment_id}/statement",
    summary="The statement of reasons for a rejected or withheld comment (with its appeal token)",
    response_model=StatementOut,
    responses={
        404: _ERRORS[404],
        409: {"model": ErrorResponse, "description": "The comment is published: there is no statement."},
        422: {"model": ErrorResponse, "description": "No appeal token was sent."},
    },
)
async def get_statement(
    comment_id: str,
    decisions: DecisionsDep,
    settings: SettingsDep,
    response: Response,
    appeal_token: str | None = Query(
        default=None,
        description=f"The verdict's appeal_token (the {APPEAL_TOKEN_HEADER} header keeps it out of URLs).",
    ),
    header_token: str | None = Header(
        default=None, alias=APPEAL_TOKEN_HEADER, description="The verdict's appeal_token."
    ),
) -> StatementOut:
    response.headers["Cache-Control"] = "no-store"
    token = given_token(header_token, appeal_token)
    found = await read_statement(decisions, comment_id, token, settings.appeal_window_s)
    return StatementOut.model_validate(found)
