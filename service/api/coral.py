"""POST /v1/coral/moderate: Coral Talk's External Moderation Phase, answered by our pipeline.

Coral POSTs each new or edited comment to an external phase's URL as JSON,

    {"action": "NEW" | "EDIT", "comment": {"body": <HTML>, "parentID"}, "author": {"id", "role"},
     "story": {"id", "url"}, "site": {"id"}, "tenantID", "tenantDomain"}

serialised with two-space indentation and signed in `X-Coral-Signature: sha256=<hex>` (HMAC-SHA256 of the
body's bytes under the phase's signing secret; during Coral's own rotation several, comma-separated). Its
phase reads the answer's `status`, `actions` and `tags` and drops keys it does not know; on any answer that
is not a 2xx, or none within the phase's timeout, it carries on without us (the comment is not held).

What we answer, from the pipeline's verdict on the comment's text (service/moderation/html.py):

    accept   {"status": "APPROVED", "actions": []}
    review   {"status": "SYSTEM_WITHHELD", "actions": [FLAG]}             (held in Coral's Pending queue)
    reject   {"status": "REJECTED", "actions": [FLAG],
              "moderationAction": {"rejectionReason": {"code": BANNED_WORD | OFFENSIVE | ABUSIVE}}}

    FLAG = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}, present when the word list or the model
    found something (a comment held only because the model could not score it carries none).

The rejection reason: BANNED_WORD when a word-list match asks for the reject; otherwise the first clause of
the notice (in its order: derogatory, personal, obscene) that a model score rejected: derogatory
(identity_attack) and obscene (obscene, sexual_explicit) are OFFENSIVE, personal (insult, threat, and
toxicity or severe_toxicity where a policy lets them reject) is ABUSIVE (CORAL_REJECTION_CODES). It is for a
Coral that takes a rejection reason from a phase: the phase validation in the Coral source we read
(phases/external.ts) keeps only status, actions and tags, so there the status alone counts.

Beside those, `moderation` is ours (Coral drops it): the decision's id in our log and dashboard, our verdict,
why a comment was held unscored, and the word-list spans in the body Coral sent, in UTF-16 code units as
JavaScript counts them.

Not scored: an author whose role is in MODERATION_CORAL_SKIP_ROLES, and a comment with no text, get 204 and
no body, Coral's documented "do not moderate" (it carries on as if the phase were not there); a comment whose
text is longer than MODERATION_MAX_CHARS is held (SYSTEM_WITHHELD), since an error would let Coral publish it.
The body is read as HTML, or as it is where the phase sends plain text (MODERATION_CORAL_BODY_FORMAT).

Errors, in our short JSON shape (Coral reads only the status): 404 coral_off without
MODERATION_CORAL_SECRETS; 401 missing_signature / invalid_signature, checked before the body is parsed;
400 for a body that is not Coral's JSON; 415 from BodyGuard; 503 overloaded. A body over
MODERATION_CORAL_MAX_BODY_BYTES is not an error but held (see `coral_shape`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from service.api.deps import PipelineDep, SettingsDep
from service.api.disconnect import unless_disconnected
from service.api.errors import ApiError, ApiProblem, ErrorResponse, our_shape, shaped_route
from service.moderation.html import HtmlText, html_text, plain_text, utf16_offset
from service.moderation.types import NOTICE_ORDER, Clause, Comment, Verdict, VerdictKind

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Coral-Signature"
_SIGNATURE_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")

CoralStatus = Literal["APPROVED", "REJECTED", "SYSTEM_WITHHELD"]
RejectionCode = Literal["OFFENSIVE", "ABUSIVE", "BANNED_WORD"]

#: Our verdicts as Coral's comment statuses.
CORAL_STATUS: dict[VerdictKind, CoralStatus] = {
    "accept": "APPROVED",
    "review": "SYSTEM_WITHHELD",
    "reject": "REJECTED",
}
#: The rejection reason of a comment rejected by a model score, by the clause of the notice it broke.
CORAL_REJECTION_CODES: dict[Clause, RejectionCode] = {
    "derogatory": "OFFENSIVE",
    "obscene": "OFFENSIVE",
    "personal": "ABUSIVE",
}


def coral_shape(problem: ApiProblem) -> Response:
    """Our error shape, with every malformed request a 400 (Coral reads only the status), except a body over
    MODERATION_CORAL_MAX_BODY_BYTES: Coral would publish a comment answered 413, so a commenter could carry
    one past moderation on enough markup (a link's href is not counted by Coral's length limit). It is held
    instead, for a person, as a text over MODERATION_MAX_CHARS is. Nothing is read, scored or recorded, so
    the answer tells whoever sent it (Coral or not: the signature is in the unread body) nothing."""
    if problem.status == 413:
        log.warning("Coral phase request held unread: %s", problem.message)
        return JSONResponse(_held("body_too_large").model_dump(mode="json"))
    if problem.status == 422:
        return our_shape(ApiProblem(400, problem.code, problem.message, problem.field, problem.headers))
    return our_shape(problem)


router = APIRouter(prefix="/v1/coral", tags=["coral"], route_class=shaped_route(coral_shape))


# -- what Coral sends -------------------------------------------------------------------------------------


class _CoralPart(BaseModel):
    # Coral may add fields; only a field we read and find of the wrong type is an error.
    model_config = ConfigDict(extra="ignore")


class CoralComment(_CoralPart):
    body: str = Field(description="The comment as HTML (or as text, where the phase is set to send text).")
    parentID: str | None = None


class CoralAuthor(_CoralPart):
    id: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, description="COMMENTER, MEMBER, STAFF, MODERATOR or ADMIN.")


class CoralStory(_CoralPart):
    id: str | None = Field(default=None, max_length=200, description="Recorded as the comment's article.")
    url: str | None = None


class CoralSite(_CoralPart):
    id: str | None = None


class CoralPhaseRequest(_CoralPart):
    """The body of Coral's external moderation phase request."""

    action: str | None = Field(default=None, description="NEW or EDIT; both are scored alike.")
    comment: CoralComment
    author: CoralAuthor | None = None
    story: CoralStory | None = None
    site: CoralSite | None = None
    tenantID: str | None = None
    tenantDomain: str | None = None


# -- what we answer -----------------------------------------------------------------------------------------


class CoralAction(BaseModel):
    actionType: Literal["FLAG"] = "FLAG"
    reason: Literal["COMMENT_DETECTED_TOXIC"] = "COMMENT_DETECTED_TOXIC"


class CoralRejectionReason(BaseModel):
    code: RejectionCode


class CoralModerationAction(BaseModel):
    rejectionReason: CoralRejectionReason


class CoralSpan(BaseModel):
    start: int = Field(description="UTF-16 offset of the span's first code unit in comment.body.")
    end: int = Field(description="UTF-16 offset one past its last code unit.")
    term: str
    tier: str
    clause: str


class CoralModeration(BaseModel):
    """Ours, beside what Coral reads."""

    id: str | None = Field(description="The decision's id in the decision log and the dashboard.")
    verdict: VerdictKind | None = Field(description="Our verdict; null when the comment was not scored.")
    skipped: Literal["text_too_long", "body_too_large"] | None = Field(
        default=None, description="Why it was held unscored."
    )
    spans: list[CoralSpan] = Field(default_factory=list, description="Word-list matches in the HTML body.")


class CoralAnswer(BaseModel):
    status: CoralStatus
    actions: list[CoralAction] = Field(default_factory=list)
    #: Absent, not null, where there is none (a reject by no clause, or no reject).
    moderationAction: CoralModerationAction | None = Field(default=None, exclude_if=lambda v: v is None)
    moderation: CoralModeration


# -- the route ---------------------------------------------------------------------------------------------


def signature_ok(body: bytes, header: str, secrets: list[str]) -> bool:
    """Whether `header` holds an HMAC-SHA256 of `body` under one of `secrets`. Every candidate is compared
    in constant time; which secret matched is all a failure could time, never how much of one."""
    presented = (part.strip() for part in header.split(","))
    # Only well-formed ones: compare_digest refuses str with non-ASCII characters (a header may carry any
    # byte), and nothing else could match.
    candidates = [
        part[len(_SIGNATURE_PREFIX) :].lower()
        for part in presented
        if part.startswith(_SIGNATURE_PREFIX) and _HEX_DIGEST.fullmatch(part[len(_SIGNATURE_PREFIX) :])
    ]
    ok = False
    for secret in secrets:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        for candidate in candidates:
            ok |= hmac.compare_digest(expected, candidate)
    return ok


def _verify(request: Request, body: bytes, secrets: list[str]) -> None:
    header = request.headers.get(SIGNATURE_HEADER)
    if not header:
        raise ApiError(
            401, "missing_signature", f"Send the body's signature in {SIGNATURE_HEADER}: sha256=<hex>."
        )
    if not signature_ok(body, header, secrets):
        raise ApiError(
            401,
            "invalid_signature",
            f"{SIGNATURE_HEADER} matches none of the signing secrets (MODERATION_CORAL_SECRETS).",
        )


def _parse(body: bytes) -> CoralPhaseRequest:
    try:
        return CoralPhaseRequest.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        if first["type"] == "json_invalid":
            raise ApiError(400, "invalid_json", "The body is not valid JSON.") from None
        where = f"'{field}'" if field else "The body"
        raise ApiError(400, "invalid_field", f"{where}: {first['msg']}.", field) from None


def _answer(verdict: Verdict, body: HtmlText) -> CoralAnswer:
    found = [r for r in verdict.reasons if r.code in ("wordlist_match", "wordlist_ambiguous", "model_score")]
    moderation_action = None
    if verdict.verdict == "reject":
        code = _rejection_code(verdict)
        moderation_action = (
            CoralModerationAction(rejectionReason=CoralRejectionReason(code=code)) if code else None
        )
    spans = []
    for match in verdict.profanity.matches:
        start, end = body.html_span(match.start, match.end)
        spans.append(
            CoralSpan(
                start=utf16_offset(body.html, start),
                end=utf16_offset(body.html, end),
                term=match.term,
                tier=match.tier,
                clause=match.clause,
            )
        )
    return CoralAnswer(
        status=CORAL_STATUS[verdict.verdict],
        actions=[CoralAction()] if verdict.verdict != "accept" and found else [],
        moderationAction=moderation_action,
        moderation=CoralModeration(id=verdict.id, verdict=verdict.verdict, spans=spans),
    )


def _held(why: Literal["text_too_long", "body_too_large"]) -> CoralAnswer:
    return CoralAnswer(
        status="SYSTEM_WITHHELD", moderation=CoralModeration(id=None, verdict=None, skipped=why)
    )


def _rejection_code(verdict: Verdict) -> RejectionCode | None:
    rejecting = [r for r in verdict.reasons if r.action == "reject"]
    if any(r.source == "wordlist" for r in rejecting):
        return "BANNED_WORD"
    broken = {r.clause for r in rejecting if r.source == "model"}
    return next((CORAL_REJECTION_CODES[c] for c in NOTICE_ORDER if c in broken), None)


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its "$defs" written in place (the OpenAPI document has no "#/$defs/" of its own; these
    models are not recursive)."""
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined: dict[str, Any] = inline(schema)
    return inlined


_ERRORS: dict[int | str, dict[str, Any]] = {
    204: {
        "description": "Not moderated: a skipped role (MODERATION_CORAL_SKIP_ROLES) or a comment with no text."
    },
    400: {
        "model": ErrorResponse,
        "description": "The body is not Coral's JSON (invalid_json, invalid_field), or a Host not allowed.",
    },
    401: {"model": ErrorResponse, "description": "X-Coral-Signature is missing or matches no secret."},
    404: {"model": ErrorResponse, "description": "The door is off: MODERATION_CORAL_SECRETS is not set."},
    415: {"model": ErrorResponse, "description": "The body is not application/json."},
}


@router.post(
    "/moderate",
    response_model=CoralAnswer,
    summary="Coral Talk's External Moderation Phase",
    responses=_ERRORS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inlined(CoralPhaseRequest.model_json_schema())}},
        },
        "parameters": [
            {
                "name": SIGNATURE_HEADER,
                "in": "header",
                "required": True,
                "description": "sha256=<hex>: HMAC-SHA256 of the raw body under a phase's signing secret.",
                "schema": {"type": "string"},
            }
        ],
    },
)
async def coral_moderate(
    request: Request, pipeline: PipelineDep, settings: SettingsDep
) -> CoralAnswer | Response:
    if not settings.CORAL_SECRETS:
        raise ApiError(
            404,
            "coral_off",
            "The Coral door is off: set MODERATION_CORAL_SECRETS to your external moderation phase's signing "
            "secret.",
        )
    raw = await request.body()
    _verify(request, raw, settings.CORAL_SECRETS)
    phase = _parse(raw)
    role = (phase.author.role or "").upper() if phase.author else ""
    if role and role in settings.CORAL_SKIP_ROLES:
        return Response(status_code=204)
    read = html_text if settings.CORAL_BODY_FORMAT == "HTML" else plain_text
    # Off the event loop, where word-list matching runs (one thread): hostile markup costs up to ~1 ms a KB
    # to read (tests/benchmarks/bench_coral.py), which the loop's other requests should not wait out.
    loop = asyncio.get_running_loop()
    body = await loop.run_in_executor(pipeline.matching, read, phase.comment.body)
    text = body.text
    if not text.strip():
        return Response(status_code=204)
    if len(text) > settings.MAX_CHARS:
        # Coral publishes what an error answers: hold it for a person instead.
        log.warning("Coral comment of %d characters held unscored (MODERATION_MAX_CHARS)", len(text))
        return _held("text_too_long")
    comment = Comment(
        text=text,
        article_id=phase.story.id if phase.story else None,
        author_id=phase.author.id if phase.author else None,
        site=settings.CORAL_SITE,
    )
    # Ids are generated: Coral sends none for the comment (only its parent's), and an edit is judged anew.
    (verdict,) = await unless_disconnected(request, pipeline.moderate([comment]))
    return _answer(verdict, body)
