"""Perspective's Comment Analyzer API (v1alpha1) on our pipeline: sites that called Google's Perspective
switch by pointing its base URL (`https://commentanalyzer.googleapis.com/v1alpha1`) at ours, `/v1alpha1`.

    POST /v1alpha1/comments:analyze?key=KEY        scores for the requested attributes
    POST /v1alpha1/comments:suggestscore?key=KEY   a moderator's suggested scores, kept as feedback

Every comment takes the same path as POST /v1/moderate (the same verdict cache, decision log and review
queue, so a Perspective client's comments reach the dashboard), unless it says `doNotStore`: then nothing of
its text is kept anywhere, only counted (service/moderation/pipeline.py). Coral Talk sends doNotStore by
default, with one requested attribute (TOXICITY unless the site chose another) and its language.

Attributes and the Detoxify categories they come from (ATTRIBUTES):

    TOXICITY           toxicity
    SEVERE_TOXICITY    severe_toxicity
    IDENTITY_ATTACK    identity_attack
    INSULT             insult
    THREAT             threat
    SEXUALLY_EXPLICIT  sexual_explicit (the `unbiased` and `multilingual` models; not `original`)
    PROFANITY          obscene, with the word list: the highest of the model's obscene score, 1.0 when a
                       word of the reject tier is listed in the comment, PERSPECTIVE_PROFANITY_REVIEW_SCORE when
                       one of the review tier is (any clause: the list is the site's list of unpublishable words);
                       a word of the ambiguous tier scores as the model judged it: 1.0 where the model agreed,
                       the review score where it was unsure or absent, nothing where it disagreed

An attribute whose category the running model does not produce (SEXUALLY_EXPLICIT on `original`, all but
PROFANITY without a model) is refused, or left out with `dropUnsupportedAttributes`. Scores are
probabilities (`scoreType` PROBABILITY, or unset; Perspective's other score types are refused); an attribute
whose summary score is below its `scoreThreshold` is left out, and so is every span score below it.

Languages follow from the model: Detoxify's `multilingual` model (a model whose name starts with it) was
trained on en, fr, es, it, pt, tr, ru; every other model, and the word list, on English. A request whose
`languages` (ISO 639-1 or BCP 47: "en", "en-US") are not all supported is refused as Perspective refuses
it. Without `languages` the comment is taken as English: there is no language detector here, so
`detectedLanguages` repeats the languages the comment was scored in.

`spanAnnotations`: span scores per sentence (offsets in UTF-16 code units, end exclusive, as Perspective and
JavaScript count), each sentence scored by the model in the same submission as the whole comment; past
PERSPECTIVE_MAX_SPANS sentences, neighbours share a span. PROFANITY's sentence spans take the word list too,
and each listed word in the comment gets a span of its own.

Errors come in Perspective's (Google's) envelope, `perspective_shape`: HTTP status, the gRPC status name,
and google.rpc details (ErrorInfo with our reason, BadRequest naming the field, RetryInfo with the delay).
A missing key is 403 PERMISSION_DENIED and a wrong or revoked one 400 INVALID_ARGUMENT (API_KEY_INVALID),
as Google answers them.
"""

from __future__ import annotations

import bisect
import itertools
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from service.api.deps import PipelineDep, SettingsDep, SuggestionsDep
from service.api.disconnect import unless_disconnected
from service.api.errors import ApiError, ApiProblem, shaped_route
from service.api.keys import KeyRefused, site_for_key
from service.config import Settings
from service.moderation.pipeline import Pipeline
from service.moderation.types import Comment, Verdict, WordMatch
from service.review.suggestions import SuggestedSpan, Suggestion

#: Perspective's attributes, each with the Detoxify category it comes from.
ATTRIBUTES: dict[str, str] = {
    "TOXICITY": "toxicity",
    "SEVERE_TOXICITY": "severe_toxicity",
    "IDENTITY_ATTACK": "identity_attack",
    "INSULT": "insult",
    "THREAT": "threat",
    "SEXUALLY_EXPLICIT": "sexual_explicit",
    "PROFANITY": "obscene",
}
#: The attribute the word list joins: it needs no model.
PROFANITY = "PROFANITY"
#: PROFANITY's score for a listed word of the reject tier: the site will not publish it, whatever the model says.
REJECT_TIER_SCORE = 1.0

#: The languages of Detoxify's models, as its README lists them: `multilingual` (XLM-RoBERTa, from Jigsaw's
#: multilingual challenge) these seven; `original` and `unbiased` (and their small versions) English.
MULTILINGUAL_LANGUAGES = ("en", "fr", "es", "it", "pt", "tr", "ru")
ENGLISH = ("en",)
DEFAULT_LANGUAGE = "en"

#: google.rpc.Code names for the HTTP statuses this door answers (Google's HTTP mapping); a body too large or
#: of the wrong type is an invalid argument, as Google's own front ends call it.
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_TYPE = "type.googleapis.com/google.rpc."
ERROR_DOMAIN = "moderation"


def perspective_shape(problem: ApiProblem) -> Response:
    """Perspective's error envelope: {"error": {"code", "message", "status", "details"}}. A field at fault is
    named in a BadRequest detail; our reason in an ErrorInfo; a Retry-After in a RetryInfo too."""
    # Perspective has no 422: whatever our API calls an unprocessable field is an invalid argument here.
    status = 400 if problem.status == 422 else problem.status
    details: list[dict[str, Any]] = [
        {"@type": f"{_TYPE}ErrorInfo", "reason": problem.code.upper(), "domain": ERROR_DOMAIN}
    ]
    if problem.field:
        details.append(
            {
                "@type": f"{_TYPE}BadRequest",
                "fieldViolations": [{"field": problem.field, "description": problem.message}],
            }
        )
    retry_after = problem.headers.get("Retry-After", "")
    if retry_after.isascii() and retry_after.isdigit():
        details.append({"@type": f"{_TYPE}RetryInfo", "retryDelay": f"{retry_after}s"})
    body = {
        "error": {
            "code": status,
            "message": problem.message,
            "status": STATUS_NAMES.get(status, "UNKNOWN"),
            "details": details,
        }
    }
    return JSONResponse(body, status_code=status, headers=problem.headers or None)


# -- wire format ---------------------------------------------------------------------------------------------


class _Wire(BaseModel):
    """Perspective's JSON names (camelCase); fields it has and we do not use are accepted and ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class TextEntry(_Wire):
    text: str = ""
    type: Literal["TEXT_TYPE_UNSPECIFIED", "PLAIN_TEXT", "HTML"] = Field(
        default="TEXT_TYPE_UNSPECIFIED", description="HTML is scored as written, tags included."
    )


class ArticleAndParentComment(_Wire):
    article: TextEntry | None = None
    parent_comment: TextEntry | None = None


class Context(_Wire):
    """What the comment is about or replies to: accepted, not scored (Perspective did not use it either)."""

    entries: list[TextEntry] = Field(default_factory=list)
    article_and_parent_comment: ArticleAndParentComment | None = None

    def as_text(self) -> str:
        pieces = [e.text for e in self.entries]
        if self.article_and_parent_comment is not None:
            pair = self.article_and_parent_comment
            pieces += [e.text for e in (pair.article, pair.parent_comment) if e is not None]
        return "\n".join(p for p in pieces if p)


ScoreType = Literal["SCORE_TYPE_UNSPECIFIED", "PROBABILITY", "STD_DEV_SCORE", "PERCENTILE", "RAW"]


class AttributeParameters(_Wire):
    score_type: ScoreType | None = Field(default=None, description="PROBABILITY (or unset) only.")
    score_threshold: float | None = Field(
        default=None, ge=0, le=1, description="Scores below it are left out of the answer."
    )


class AnalyzeRequest(_Wire):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "comment": {"text": "What a thoughtful article."},
                    "doNotStore": True,
                    "requestedAttributes": {"TOXICITY": {}},
                    "languages": ["en"],
                }
            ]
        }
    )

    comment: TextEntry | None = None
    requested_attributes: dict[str, AttributeParameters | None] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=list)
    span_annotations: bool = False
    do_not_store: bool = Field(
        default=False, description="Keep nothing of the text (no cache, log, status or queue): only count it."
    )
    drop_unsupported_attributes: bool = False
    client_token: str | None = Field(default=None, description="Echoed in the answer.")
    session_id: str | None = None
    community_id: str | None = None
    context: Context | None = None


class Score(_Wire):
    value: float
    type: Literal["PROBABILITY"] = "PROBABILITY"


class SpanScore(_Wire):
    begin: int = Field(description="UTF-16 code units from the start of the text.")
    end: int = Field(description="Exclusive, in UTF-16 code units.")
    score: Score


class AttributeScores(_Wire):
    summary_score: Score
    span_scores: list[SpanScore] | None = None


class AnalyzeResponse(_Wire):
    attribute_scores: dict[str, AttributeScores]
    languages: list[str]
    detected_languages: list[str]
    client_token: str | None = None


class SuggestedScore(_Wire):
    value: float | None = None
    type: ScoreType | None = None


class SuggestedSpanScore(_Wire):
    begin: int | None = None
    end: int | None = None
    score: SuggestedScore | None = None


class SuggestedAttributeScores(_Wire):
    summary_score: SuggestedScore | None = None
    span_scores: list[SuggestedSpanScore] = Field(default_factory=list)


class SuggestRequest(_Wire):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "comment": {"text": "What a thoughtful article."},
                    "attributeScores": {"TOXICITY": {"summaryScore": {"value": 0}}},
                    "languages": ["en"],
                    "communityId": "Coral:https://comments.example.org",
                    "clientToken": "comment:c-1001",
                }
            ]
        }
    )

    comment: TextEntry | None = None
    attribute_scores: dict[str, SuggestedAttributeScores] = Field(default_factory=dict)
    languages: list[str] = Field(default_factory=list)
    community_id: str | None = None
    client_token: str | None = None
    session_id: str | None = None
    context: Context | None = None


class SuggestResponse(_Wire):
    client_token: str | None = None
    requested_languages: list[str]


class ErrorBody(BaseModel):
    code: int
    message: str
    status: str
    details: list[dict[str, Any]]


class ErrorEnvelope(BaseModel):
    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {
        "model": ErrorEnvelope,
        "description": "INVALID_ARGUMENT: a bad comment, attribute, language or key.",
    },
    403: {"model": ErrorEnvelope, "description": "PERMISSION_DENIED: no API key where one is required."},
    413: {
        "model": ErrorEnvelope,
        "description": "INVALID_ARGUMENT: the body is larger than any valid request.",
    },
    415: {"model": ErrorEnvelope, "description": "INVALID_ARGUMENT: the body is not application/json."},
    503: {"model": ErrorEnvelope, "description": "UNAVAILABLE: overloaded, or the store or model failed."},
}

router = APIRouter(prefix="/v1alpha1", tags=["perspective"], route_class=shaped_route(perspective_shape))

_KEY = Query(default=None, description="The site's API key (as Perspective took it).")


# -- the routes ----------------------------------------------------------------------------------------------


@router.post(
    "/comments:analyze",
    response_model=AnalyzeResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Perspective: score a comment for the requested attributes",
)
async def analyze(
    request: Request,
    body: AnalyzeRequest,
    pipeline: PipelineDep,
    settings: SettingsDep,
    key: str | None = _KEY,
) -> Any:
    site = await _site(request, key)
    text = _comment_text(body.comment, settings)
    languages = body.languages or [DEFAULT_LANGUAGE]
    attributes = _scorable(body, languages, pipeline)
    answer = AnalyzeResponse(
        attribute_scores={},
        languages=languages,
        detected_languages=languages,
        client_token=body.client_token,
    )
    if not attributes:
        return answer

    groups = _span_groups(text, settings.PERSPECTIVE_MAX_SPANS) if body.span_annotations else []
    # A comment of one sentence is its own span: its scores are the comment's, not a second model input.
    parts = [text[s:e] for s, e in groups] if len(groups) > 1 else []
    # The word list detects the language of a comment sent without `languages` (English is only the model's
    # default here).
    comment = Comment(text=text, lang=_primary(body.languages[0]) if body.languages else None, site=site)
    verdict, part_scores = await unless_disconnected(
        request, pipeline.moderate_with_parts(comment, parts, do_not_store=body.do_not_store)
    )
    if pipeline.model_enabled and (not verdict.model_consulted or (parts and part_scores is None)):
        # Scores are what this door answers: a verdict without the model's would be a made-up 0. (The parts
        # alone fail when the comment's verdict came from the cache.)
        return perspective_shape(
            ApiProblem(
                503,
                "MODEL_UNAVAILABLE",
                "The toxicity model failed to score this comment; retry shortly.",
                headers={"Retry-After": str(settings.RETRY_AFTER_S)},
            )
        )
    scores = _Scores(verdict, settings.PERSPECTIVE_PROFANITY_REVIEW_SCORE)
    offsets = Utf16(text)
    for attribute, parameters in attributes.items():
        threshold = (parameters.score_threshold if parameters else None) or 0.0
        summary = scores.summary(attribute)
        if summary < threshold:
            continue
        spans: list[SpanScore] | None = None
        if body.span_annotations:
            found = scores.spans(attribute, groups, part_scores)
            spans = [
                SpanScore(begin=offsets.of(s), end=offsets.of(e), score=Score(value=v))
                for s, e, v in found
                if v >= threshold
            ]
        answer.attribute_scores[attribute] = AttributeScores(
            summary_score=Score(value=summary), span_scores=spans
        )
    return answer


@router.post(
    "/comments:suggestscore",
    response_model=SuggestResponse,
    response_model_exclude_none=True,
    responses=ERRORS,
    summary="Perspective: suggest a comment's scores (kept as moderators' feedback, shown on the dashboard)",
)
async def suggest_score(
    request: Request,
    body: SuggestRequest,
    suggestions: SuggestionsDep,
    settings: SettingsDep,
    key: str | None = _KEY,
) -> SuggestResponse:
    site = await _site(request, key)
    text = _comment_text(body.comment, settings)
    if not body.attribute_scores:
        raise ApiError(400, "ATTRIBUTE_SCORES_EMPTY", "attributeScores must not be empty.", "attributeScores")
    offsets = Utf16(text)
    summaries: dict[str, float] = {}
    spans: dict[str, list[SuggestedSpan]] = {}
    for attribute, suggested in body.attribute_scores.items():
        field = f"attributeScores.{attribute}"
        _known(attribute, field)
        if suggested.summary_score is None and not suggested.span_scores:
            raise ApiError(
                400, "ATTRIBUTE_SCORES_EMPTY", f"Suggest a summaryScore or spanScores for {attribute}.", field
            )
        if suggested.summary_score is not None:
            summaries[attribute] = _probability(suggested.summary_score, f"{field}.summaryScore")
        if len(suggested.span_scores) > settings.PERSPECTIVE_MAX_SPANS:
            raise ApiError(
                400,
                "TOO_MANY_SPANS",
                f"{attribute} has {len(suggested.span_scores)} span scores; at most "
                f"{settings.PERSPECTIVE_MAX_SPANS} are taken (MODERATION_PERSPECTIVE_MAX_SPANS).",
                f"{field}.spanScores",
            )
        spans[attribute] = [
            _suggested_span(span, offsets, f"{field}.spanScores.{i}")
            for i, span in enumerate(suggested.span_scores)
        ]
    await suggestions.add(
        Suggestion(
            text=text,
            scores=summaries,
            spans=spans,
            languages=tuple(body.languages),
            community_id=body.community_id,
            client_token=body.client_token,
            session_id=body.session_id,
            site=site,
            context=body.context.as_text() if body.context else "",
        )
    )
    return SuggestResponse(client_token=body.client_token, requested_languages=body.languages)


# -- checks --------------------------------------------------------------------------------------------------


async def _site(request: Request, key: str | None) -> str | None:
    """The key's site; a refusal in Google's words and statuses."""
    try:
        return await site_for_key(request, key)
    except KeyRefused as exc:
        if exc.reason == "missing":
            raise ApiError(403, "API_KEY_MISSING", f"The request is missing a valid API key. {exc}") from None
        raise ApiError(
            400, "API_KEY_INVALID", f"API key not valid. Please pass a valid API key. {exc}", "key"
        ) from None


def _comment_text(comment: TextEntry | None, settings: Settings) -> str:
    text = comment.text if comment is not None else ""
    if not text.strip():
        raise ApiError(400, "COMMENT_EMPTY", "Comment must be non-empty.", "comment.text")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ApiError(
            400,
            "INVALID_TEXT",
            f"The text holds an unpaired surrogate (\\u{ord(text[exc.start]):04x}) at {exc.start}.",
            "comment.text",
        ) from None
    limit = settings.PERSPECTIVE_MAX_COMMENT_BYTES
    if size > limit:
        raise ApiError(
            400,
            "COMMENT_TOO_LONG",
            f"Comment text was too many bytes. Value ({size}) exceeded limit ({limit}).",
            "comment.text",
        )
    return text


def _scorable(
    body: AnalyzeRequest, languages: Sequence[str], pipeline: Pipeline
) -> dict[str, AttributeParameters | None]:
    """The requested attributes this model can score in `languages`: a request for one it cannot is refused,
    or the attribute dropped with dropUnsupportedAttributes (all of them for a language it does not score)."""
    attributes = _requested(body.requested_attributes)
    supported = model_languages(pipeline.scorer.model_id)
    unsupported = [tag for tag in languages if _primary(tag) not in supported]
    available = {a for a in attributes if a == PROFANITY or ATTRIBUTES[a] in pipeline.scorer.categories}
    if body.drop_unsupported_attributes:
        return {} if unsupported else {a: p for a, p in attributes.items() if a in available}
    if unsupported:
        first = next(iter(attributes))
        raise ApiError(
            400,
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
            f"Attribute {first} does not support request languages: {', '.join(unsupported)}. "
            f"This service's model scores {', '.join(supported)}.",
            "languages",
        )
    if missing := [a for a in attributes if a not in available]:
        raise ApiError(
            400,
            "ATTRIBUTE_NOT_AVAILABLE",
            f"Attribute {missing[0]} is not available: the model running here "
            f"({pipeline.scorer.model_id}) does not score {ATTRIBUTES[missing[0]]}.",
            f"requestedAttributes.{missing[0]}",
        )
    return attributes


def _known(attribute: str, field: str) -> None:
    if attribute not in ATTRIBUTES:
        raise ApiError(
            400,
            "UNKNOWN_ATTRIBUTE",
            f"Unknown attribute {attribute!r}; this service scores {', '.join(ATTRIBUTES)}.",
            field,
        )


def _requested(requested: Mapping[str, AttributeParameters | None]) -> dict[str, AttributeParameters | None]:
    if not requested:
        raise ApiError(
            400,
            "NO_REQUESTED_ATTRIBUTES",
            "Request at least one attribute in requestedAttributes.",
            "requestedAttributes",
        )
    for attribute, parameters in requested.items():
        field = f"requestedAttributes.{attribute}"
        _known(attribute, field)
        if parameters is not None and parameters.score_type not in (
            None,
            "SCORE_TYPE_UNSPECIFIED",
            "PROBABILITY",
        ):
            raise ApiError(
                400,
                "SCORE_TYPE_NOT_SUPPORTED",
                f"scoreType {parameters.score_type} is not supported; scores are PROBABILITY.",
                f"{field}.scoreType",
            )
    return dict(requested)


def _probability(score: SuggestedScore, field: str) -> float:
    if score.type not in (None, "SCORE_TYPE_UNSPECIFIED", "PROBABILITY"):
        raise ApiError(
            400, "SCORE_TYPE_NOT_SUPPORTED", f"Suggest PROBABILITY scores, not {score.type}.", f"{field}.type"
        )
    if score.value is None or not 0.0 <= score.value <= 1.0:
        raise ApiError(
            400, "INVALID_SCORE", "A suggested score's value is a probability, 0 to 1.", f"{field}.value"
        )
    return score.value


def _suggested_span(span: SuggestedSpanScore, offsets: Utf16, field: str) -> SuggestedSpan:
    if span.begin is None or span.end is None or span.score is None:
        raise ApiError(400, "INVALID_SPAN", "A suggested span needs begin, end and score.", field)
    start, end = offsets.index(span.begin), offsets.index(span.end)
    if start is None or end is None or not start < end:
        raise ApiError(
            400,
            "INVALID_SPAN",
            f"Span [{span.begin}, {span.end}) is not a piece of the comment (UTF-16 offsets, end exclusive, "
            f"0 to {offsets.length}, not inside a character).",
            field,
        )
    return SuggestedSpan(start, end, _probability(span.score, f"{field}.score"))


def model_languages(model_id: str) -> tuple[str, ...]:
    """The languages the model named by `model_id` was trained on (see MULTILINGUAL_LANGUAGES)."""
    name = model_id.split(":", 1)[0].lower()
    return MULTILINGUAL_LANGUAGES if name.startswith("multilingual") else ENGLISH


def _primary(tag: str) -> str:
    """A BCP 47 tag's language ("en-US" -> "en", "pt_BR" -> "pt")."""
    return re.split(r"[-_]", tag.strip(), maxsplit=1)[0].lower()


# -- scores and spans ----------------------------------------------------------------------------------------

# A sentence ends at a run of terminal punctuation (closing quotes and brackets with it) followed by white
# space or the end; at the ideographic full stop, exclamation and question marks (CJK puts no space after
# them); or at a line break.
_SENTENCE_END = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019\u00bb)\]]*(?=\s|$)|[\u3002\uff01\uff1f]+|\n")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """The text's sentences as (start, end) offsets into it, surrounding white space left out."""
    found: list[tuple[int, int]] = []
    start = 0
    for end in itertools.chain((m.end() for m in _SENTENCE_END.finditer(text)), [len(text)]):
        piece = text[start:end]
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            found.append((start + lead, start + lead + len(stripped)))
        start = end
    return found


def _span_groups(text: str, most: int) -> list[tuple[int, int]]:
    """The sentences, at most `most` spans of them: past it, runs of neighbouring sentences share one."""
    found = split_sentences(text)
    if len(found) <= most:
        return found
    size = math.ceil(len(found) / most)
    return [(found[i][0], found[min(i + size, len(found)) - 1][1]) for i in range(0, len(found), size)]


class Utf16:
    """Offsets into a text as Python counts them (code points) and as UTF-16 does (JavaScript, Perspective):
    a character outside the Basic Multilingual Plane (most emoji) is two UTF-16 code units."""

    def __init__(self, text: str) -> None:
        # units[i]: UTF-16 code units before code point i; None when every character is one unit.
        self.units: list[int] | None = None
        self.length = len(text)
        if any(ord(c) > 0xFFFF for c in text):
            self.units = [0, *itertools.accumulate(2 if ord(c) > 0xFFFF else 1 for c in text)]
            self.length = self.units[-1]

    def of(self, index: int) -> int:
        """The UTF-16 offset of code point offset `index`."""
        return index if self.units is None else self.units[index]

    def index(self, offset: int) -> int | None:
        """The code point offset of UTF-16 offset `offset`; None outside the text or inside a character."""
        if not 0 <= offset <= self.length:
            return None
        if self.units is None:
            return offset
        i = bisect.bisect_left(self.units, offset)
        return i if self.units[i] == offset else None


class _Scores:
    """One verdict's scores as Perspective's attributes: the model's categories, PROFANITY with the word list."""

    def __init__(self, verdict: Verdict, review_score: float) -> None:
        self.verdict = verdict
        self.review_score = review_score

    def _word(self, match: WordMatch) -> float:
        if match.tier == "reject":
            return REJECT_TIER_SCORE
        if match.tier == "ambiguous":
            return self._ambiguous(match)
        return self.review_score

    def _ambiguous(self, match: WordMatch) -> float:
        """An ambiguous word counts as the model judged it: as a reject-tier word where the model agreed, a
        review-tier one where it was unsure or absent, not at all where it disagreed (its reason says which;
        a reason left out past the cap is taken as unsure)."""
        for reason in self.verdict.reasons:
            if (
                reason.code == "wordlist_ambiguous"
                and reason.term == match.term
                and (reason.start, reason.end) == (match.start, match.end)
            ):
                if reason.action == "reject":
                    return REJECT_TIER_SCORE
                return self.review_score if reason.action == "review" else 0.0
        return self.review_score

    def _profanity(self, obscene: float, matches: Sequence[WordMatch]) -> float:
        return max([obscene, *(self._word(m) for m in matches)])

    def summary(self, attribute: str) -> float:
        score = self.verdict.scores.get(ATTRIBUTES[attribute], 0.0)
        if attribute == PROFANITY:
            return self._profanity(score, self.verdict.profanity.matches)
        return score

    def spans(
        self,
        attribute: str,
        groups: Sequence[tuple[int, int]],
        part_scores: Sequence[Mapping[str, float]] | None,
    ) -> list[tuple[int, int, float]]:
        """(start, end, score) per sentence group, plus for PROFANITY one per listed word, in text order. A
        comment of one sentence (no part scores) takes its summary scores."""
        category = ATTRIBUTES[attribute]
        if len(groups) > 1 and part_scores is not None:
            # As the verdict's own scores are kept.
            values = [round(float(scores.get(category, 0.0)), 6) for scores in part_scores]
        else:
            values = [self.verdict.scores.get(category, 0.0)] * len(groups)
        if attribute != PROFANITY:
            return [(s, e, v) for (s, e), v in zip(groups, values, strict=True)]
        matches = self.verdict.profanity.matches
        found = [
            (s, e, self._profanity(v, [m for m in matches if m.start < e and m.end > s]))
            for (s, e), v in zip(groups, values, strict=True)
        ]
        found += [(m.start, m.end, self._word(m)) for m in matches]
        return sorted(found)
