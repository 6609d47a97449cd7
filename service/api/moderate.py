"""POST /v1/moderate and /v1/moderate/batch.

The site's API key comes in the X-API-Key header (service/api/keys.py says when one is needed); a refused
key is 401 `missing_api_key` or `invalid_api_key`, answered before anything is said about the body's fields,
and every comment carries the key's site into its verdict's log entry and status (never a site the body
names: only a key says which site a request is from).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from service.api.deps import PipelineDep, SettingsDep
from service.api.disconnect import unless_disconnected
from service.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse
from service.api.keys import KeyRefused, site_for_key
from service.api.schemas import BatchIn, BatchOut, CommentIn
from service.config import Settings
from service.moderation.pipeline import Pipeline
from service.moderation.types import Comment, Verdict
from service.review.models import IdConflict

router = APIRouter(prefix="/v1/moderate", tags=["moderation"])


def check_text(text: str, settings: Settings, field: str) -> None:
    if not text.strip():
        raise ApiError(422, "empty_text", "The comment text is empty or only whitespace.", field)
    if len(text) > settings.MAX_CHARS:
        raise ApiError(
            422,
            "text_too_long",
            f"The comment has {len(text)} characters; the limit is {settings.MAX_CHARS} (MODERATION_MAX_CHARS).",
            field,
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ApiError(
            422,
            "invalid_text",
            f"The text holds an unpaired surrogate (\\u{ord(text[exc.start]):04x}) at {exc.start}.",
            field,
        ) from None


API_KEY_HEADER = "X-API-Key"


async def _site(
    request: Request,
    api_key: str | None = Header(
        default=None,
        alias=API_KEY_HEADER,
        description="The site's API key (`moderation keys create SITE`); required where "
        "MODERATION_REQUIRE_API_KEY is on, as in production.",
    ),
) -> str | None:
    """The site of the request's API key (None: anonymous); 401 in our shape when it is refused."""
    try:
        return await site_for_key(request, api_key)
    except KeyRefused as exc:
        code = "missing_api_key" if exc.reason == "missing" else "invalid_api_key"
        message = f"{exc} Send the site's key in the {API_KEY_HEADER} header."
        raise ApiError(401, code, message, API_KEY_HEADER) from None


SiteDep = Annotated[str | None, Depends(_site)]


def _comment(body: CommentIn, site: str | None) -> Comment:
    return Comment(**body.model_dump(), site=site)


async def _moderate(
    request: Request, pipeline: Pipeline, comments: list[Comment], field: str
) -> list[Verdict]:
    """The pipeline's verdicts; an id taken by another text is 409 id_conflict on `field` ("{i}" is its
    place). In a batch the other comments are recorded: a retry with the same texts gets their verdicts."""
    try:
        return await unless_disconnected(request, pipeline.moderate(comments))
    except IdConflict as exc:
        raise ApiError(409, "id_conflict", str(exc), field.format(i=exc.index)) from None


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The comment id already has a status, for another text."}
}
KEY_REFUSED: dict[int | str, dict[str, Any]] = {
    401: {
        "model": ErrorResponse,
        "description": f"missing_api_key or invalid_api_key: no {API_KEY_HEADER} where one is required, or one "
        "that is unknown or revoked.",
    }
}


@router.post(
    "",
    response_model=Verdict,
    summary="Moderate one comment",
    responses={**ERROR_RESPONSES, **CONFLICT, **KEY_REFUSED},
)
async def moderate_one(
    request: Request, body: CommentIn, pipeline: PipelineDep, settings: SettingsDep, site: SiteDep
) -> Verdict:
    check_text(body.text, settings, "text")
    (verdict,) = await _moderate(request, pipeline, [_comment(body, site)], "id")
    return verdict


@router.post(
    "/batch",
    response_model=BatchOut,
    summary="Moderate up to MODERATION_MAX_BATCH comments in one call",
    responses={**ERROR_RESPONSES, **CONFLICT, **KEY_REFUSED},
)
async def moderate_batch(
    request: Request, body: BatchIn, pipeline: PipelineDep, settings: SettingsDep, site: SiteDep
) -> BatchOut:
    if not body.comments:
        raise ApiError(422, "empty_batch", "Send at least one comment in 'comments'.", "comments")
    if len(body.comments) > settings.MAX_BATCH:
        raise ApiError(
            422,
            "batch_too_large",
            f"The batch has {len(body.comments)} comments; the limit is {settings.MAX_BATCH} (MODERATION_MAX_BATCH).",
            "comments",
        )
    for i, c in enumerate(body.comments):
        check_text(c.text, settings, f"comments.{i}.text")
    verdicts = await _moderate(
        request, pipeline, [_comment(c, site) for c in body.comments], "comments.{i}.id"
    )
    return BatchOut(results=verdicts)
