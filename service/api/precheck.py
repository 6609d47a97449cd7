"""POST /v1/precheck (what the comment would get, while it is being written) and GET /v1/notice (the notice
itself): the commenter's widget asks these (issue 14; /widget.js).

A pre-check is advice, not a decision: the pipeline judges the text as /v1/moderate would (by the word list
alone unless MODERATION_PRECHECK_MODEL is on: see Settings for why), but nothing of it is kept or counted
(`Pipeline.precheck`). The widget sends one per pause in typing, so it is rate limited
per client address and, with an API key, per site (Settings.PRECHECK_LIMIT_PER_IP / _PER_SITE): past either,
429 `too_many_requests` with Retry-After. When the limits cannot be counted (Redis down) the pre-check goes
ahead: it is only advice, and the comment's own /v1/moderate is what decides.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.api.deps import PipelineDep, SettingsDep
from service.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse
from service.api.moderate import KEY_REFUSED, SiteDep, check_text
from service.api.schemas import check_lang
from service.config import Settings
from service.moderation.types import Clause, Comment, Reason, Tier, VerdictKind
from service.store.base import StoreUnavailable
from service.store.keys import Keys
from service.store.ratelimits import RateLimitItem, RateLimits, parse_limits

log = logging.getLogger(__name__)

router = APIRouter(tags=["widget"])


class PrecheckIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra={"examples": [{"text": "What a sh1t take.", "lang": "en"}]}
    )

    text: str = Field(description="The comment as it stands (at most MODERATION_MAX_CHARS characters).")
    lang: str | None = Field(
        default=None, max_length=35, description="BCP 47 language tag, if known (as for /v1/moderate)."
    )

    @field_validator("lang")
    @classmethod
    def _lang_tag(cls, value: str | None) -> str | None:
        return check_lang(value)


class Span(BaseModel):
    """One listed word in the text: what to underline, and which clause of the notice it breaks."""

    start: int = Field(description="Offset of the first character in the text as sent (UTF-16 code units).")
    end: int = Field(description="Offset one past the last character (UTF-16 code units).")
    text: str = Field(description="The text between start and end, as the commenter wrote it.")
    clause: Clause
    tier: Tier = Field(
        description="What the word alone asks for: review or reject; ambiguous for a word with a common innocent "
        "sense, which the model judges (without it, as in the word-list pre-check, it goes to review)."
    )
    term: str = Field(description="The listed term it matched.")


class PrecheckOut(BaseModel):
    verdict: VerdictKind = Field(
        description="What /v1/moderate would answer for this text now, by the word list alone unless "
        "MODERATION_PRECHECK_MODEL is on (model_consulted says which; a cached verdict may include the model)."
    )
    notice: str | None = Field(description="The text to show the commenter; null for an accept.")
    reasons: list[Reason] = Field(default_factory=list)
    spans: list[Span] = Field(default_factory=list, description="The listed words found, in text order.")
    model_consulted: bool
    policy_version: str


class NoticeOut(BaseModel):
    notice: str = Field(description="The site's notice, as rules/policy.yaml writes it.")
    policy_version: str


class PrecheckLimits:
    """The pre-check's per-client and per-site limits, on RateLimits (Redis, or process memory)."""

    def __init__(self, settings: Settings) -> None:
        self.per_ip: list[RateLimitItem] = parse_limits(settings.PRECHECK_LIMIT_PER_IP)
        self.per_site: list[RateLimitItem] = parse_limits(settings.PRECHECK_LIMIT_PER_SITE)
        self.limits = RateLimits.open(
            settings.REDIS_URL, prefix=settings.REDIS_PREFIX, name=Keys.precheck_limits
        )

    async def retry_after_s(self, address: str, site: str | None) -> int:
        """0 when the request may go ahead (and is counted); else the seconds until it may."""
        checks = [(item, "ip", address) for item in self.per_ip]
        if site is not None:
            checks += [(item, "site", site) for item in self.per_site]
        try:
            for item, kind, who in checks:
                if not await self.limits.hit(item, kind, who):
                    return await self.limits.retry_after_s(item, kind, who)
        except StoreUnavailable as exc:
            log.warning("pre-check limits not counted, the pre-check goes ahead: %s", exc)
        return 0

    async def aclose(self) -> None:
        await self.limits.aclose()


def _limits(request: Request) -> PrecheckLimits:
    limits: PrecheckLimits = request.app.state.precheck_limits
    return limits


PrecheckLimitsDep = Annotated[PrecheckLimits, Depends(_limits)]

TOO_MANY: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorResponse,
        "description": "too_many_requests: this client (address, or site) sent more pre-checks than "
        "MODERATION_PRECHECK_LIMIT_PER_IP / _PER_SITE allow; Retry-After says when to ask again.",
    }
}


@router.post(
    "/v1/precheck",
    response_model=PrecheckOut,
    summary="What a comment would get now, while it is written (not recorded)",
    responses={**ERROR_RESPONSES, **KEY_REFUSED, **TOO_MANY},
)
async def precheck(
    request: Request,
    body: PrecheckIn,
    pipeline: PipelineDep,
    settings: SettingsDep,
    site: SiteDep,
    limits: PrecheckLimitsDep,
) -> PrecheckOut:
    address = request.client.host if request.client else "unknown"
    wait = await limits.retry_after_s(address, site)
    if wait:
        raise ApiError(
            429,
            "too_many_requests",
            f"Too many pre-checks from this client; ask again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    check_text(body.text, settings, "text")
    comment = Comment(text=body.text, lang=body.lang, site=site)
    verdict = await pipeline.precheck(comment, use_model=settings.PRECHECK_MODEL)
    spans = sorted(
        (
            Span(start=m.start, end=m.end, text=m.text, clause=m.clause, tier=m.tier, term=m.term)
            for m in verdict.profanity.matches
        ),
        key=lambda s: (s.start, s.end),
    )
    return PrecheckOut(
        verdict=verdict.verdict,
        notice=verdict.notice,
        reasons=verdict.reasons,
        spans=spans,
        model_consulted=verdict.model_consulted,
        policy_version=verdict.policy_version,
    )


@router.get("/v1/notice", response_model=NoticeOut, summary="The site's notice, to show under a comment form")
async def notice(pipeline: PipelineDep) -> NoticeOut:
    return NoticeOut(notice=pipeline.policy.notice, policy_version=pipeline.policy.version)
