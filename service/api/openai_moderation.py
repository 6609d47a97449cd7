"""OpenAI's moderation endpoint, for sites that call it through the `openai` SDK: POST /v1/moderations, and
POST /moderations for a client whose base URL has no /v1 (the SDK appends /moderations to its base URL).

    {"input": "text" | ["text", ...] | [{"type": "text", "text": "..."}, ...], "model": "..."}
        → {"id": "modr-<32 hex>", "model": "<our model id>", "results": [{flagged, categories,
           category_scores, category_applied_input_types}, ...]}

One result per string; an array of parts is ONE input (as OpenAI's multi-modal input is): its text parts,
joined by newlines, are one comment. An image part is refused (400 image_input_unsupported): the service
reads text only. Every input goes through the same pipeline as /v1/moderate (verdict cache, decision log,
review queue, dashboard); comment `i` of a request is recorded under the id `<response id>-<i>`, the id the
webhook names when a moderator decides it.

`model` is accepted and ignored (any string: a client asking for "omni-moderation-latest" keeps working), and
the answer's `model` is the model that actually ran (name and checkpoint hash, as in our verdicts), because
that is what OpenAI's own field says ("the model used to generate the moderation results"; it too answers
with the snapshot it ran) and a client logging it should not be told OpenAI scored its comments.

How our verdict becomes OpenAI's answer (MODEL_SOURCES, WORDLIST_SOURCES):

    flagged                  our verdict is not accept. A review is flagged: our policy holds it back until a
                             moderator decides ("will appear once a moderator has reviewed it"), so a site
                             that withholds flagged comments does what the policy says; the moderator's
                             decision reaches it through the webhook.
    categories[c]            true when the verdict holds a reason (review or reject) in every Detoxify
                             category c is read from; a word-list match in the derogatory clause (a slur)
                             counts as identity_attack. False where Detoxify has nothing.
    category_scores[c]       the model's probability of the category c is read from (the lowest of them where
                             there are two); 0.0 where Detoxify has nothing or the model was not consulted.
    category_applied_input_types[c]
                             ["text"] where the comment was assessed for c (by the model, or for hate by the
                             word list too); [] where nothing here assesses it.

An input rejected for obscene words alone (or reviewed for general toxicity) is flagged with no category
true: OpenAI has no category for profanity or rudeness.

The API key comes as `Authorization: Bearer <key>` (what the SDK sends) and goes to `site_for_key`. Every
error is in OpenAI's envelope, {"error": {"message", "type", "param", "code"}} (`openai_shape`), with the
statuses the SDK knows: 400 for anything wrong with the request (a body that is not JSON, or not sent as
JSON, included), 401 for the key, 413 for a body over the limit, 429 and 503 with Retry-After, which the
SDK's retries wait for.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, create_model

from service.api.deps import PipelineDep, SettingsDep
from service.api.disconnect import unless_disconnected
from service.api.errors import ApiError, ApiProblem, shaped_route
from service.api.keys import KeyRefused, site_for_key
from service.config import Settings
from service.moderation.types import Comment, Verdict

# -- the mapping ----------------------------------------------------------------------------------------------

#: Each OpenAI category (in the order OpenAI lists them) and the Detoxify categories it is read from. Where
#: there are two, both must hold: a threat aimed at a group for who they are is hate *and* a threat, so the
#: score is the lower of the two and the category is true only when both are. () where Detoxify has
#: nothing to say: self-harm, illicit acts, minors and graphic violence are outside what it was trained on.
MODEL_SOURCES: dict[str, tuple[str, ...]] = {
    "harassment": ("insult",),
    "harassment/threatening": ("threat",),
    "hate": ("identity_attack",),
    "hate/threatening": ("identity_attack", "threat"),
    "illicit": (),
    "illicit/violent": (),
    "self-harm": (),
    "self-harm/intent": (),
    "self-harm/instructions": (),
    "sexual": ("sexual_explicit",),
    "sexual/minors": (),
    "violence": ("threat",),
    "violence/graphic": (),
}
OPENAI_CATEGORIES: tuple[str, ...] = tuple(MODEL_SOURCES)

#: Word-list clauses and the Detoxify category a match in one stands for: a listed slur is an identity
#: attack, whatever the model scored (our policy files both under the derogatory clause).
WORDLIST_SOURCES: dict[str, str] = {"derogatory": "identity_attack"}

_TEXT = ["text"]
_NONE: list[str] = []


def moderation_result(verdict: Verdict) -> dict[str, Any]:
    """One entry of `results`: OpenAI's view of our verdict (the table in the module's docstring)."""
    flagged_by: set[str] = set()
    for reason in verdict.reasons:
        if reason.source == "model" and reason.category is not None:
            flagged_by.add(reason.category)
    assessed = set(verdict.scores) if verdict.model_consulted else set()
    # An ambiguous word the model disagreed with ("fag", the cigarette) stands for nothing.
    dismissed = {
        (r.term, r.start, r.end)
        for r in verdict.reasons
        if r.code == "wordlist_ambiguous" and r.action == "accept"
    }
    for match in verdict.profanity.matches:
        if (match.term, match.start, match.end) in dismissed:
            continue
        standing_for = WORDLIST_SOURCES.get(match.clause)
        if standing_for is not None:
            flagged_by.add(standing_for)
    # The word list looks at every comment for what it stands for, whether or not it matched.
    assessed.update(WORDLIST_SOURCES.values())
    scores = verdict.scores if verdict.model_consulted else {}

    categories: dict[str, bool] = {}
    category_scores: dict[str, float] = {}
    applied: dict[str, list[str]] = {}
    for name, sources in MODEL_SOURCES.items():
        categories[name] = bool(sources) and all(s in flagged_by for s in sources)
        category_scores[name] = min((scores.get(s, 0.0) for s in sources), default=0.0)
        applied[name] = _TEXT if sources and all(s in assessed for s in sources) else _NONE
    return {
        "flagged": verdict.verdict != "accept",
        "categories": categories,
        "category_scores": category_scores,
        "category_applied_input_types": applied,
    }


# -- errors in OpenAI's envelope --------------------------------------------------------------------------------

#: Ours → the status the SDK expects. OpenAI answers every malformed request with 400 (a body that is not
#: JSON included), so FastAPI-style 422s and the body guard's 415 become 400s here.
_STATUS = {415: 400, 422: 400}


def _error_type(status: int) -> str:
    # The `type` values OpenAI's API itself sends (a wrong key is an invalid_request_error there too).
    if status == 429:
        return "requests"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def openai_shape(problem: ApiProblem) -> Response:
    """An ApiProblem in OpenAI's error envelope: `code` is our machine-readable code, `param` the part of the
    request at fault (OpenAI's notation: input, input[2], input[0].text) or null."""
    status = _STATUS.get(problem.status, problem.status)
    body = {
        "error": {
            "message": problem.message,
            "type": _error_type(status),
            "param": problem.field,
            "code": problem.code,
        }
    }
    return JSONResponse(body, status_code=status, headers=problem.headers or None)


# -- the request ----------------------------------------------------------------------------------------------


def _kind(value: object) -> str:
    """How OpenAI's error messages name a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _bad(message: str, param: str | None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, code, message, param)


def _checked(text: str, settings: Settings, param: str) -> str:
    """`text`, refused as /v1/moderate refuses it: empty, too long, or not encodable."""
    if not text.strip():
        raise _bad(
            f"'{param}' is empty or only whitespace; there is nothing to moderate.", param, "empty_input"
        )
    if len(text) > settings.MAX_CHARS:
        raise _bad(
            f"'{param}' has {len(text)} characters; the limit is {settings.MAX_CHARS} (MODERATION_MAX_CHARS).",
            param,
            "input_too_long",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _bad(
            f"'{param}' holds an unpaired surrogate (\\u{ord(text[exc.start]):04x}) at {exc.start}.",
            param,
            "invalid_text",
        ) from None
    return text


def _part_text(part: object, param: str) -> str:
    if not isinstance(part, dict):
        raise _bad(f'\'{param}\' must be an input object like {{"type": "text", "text": "..."}}.', param)
    kind = part.get("type")
    if kind == "image_url":
        raise _bad(
            f"'{param}' is an image: this service moderates text only. Send the text parts alone.",
            param,
            "image_input_unsupported",
        )
    if kind != "text":
        raise _bad(f"'{param}.type' must be 'text' (got {json.dumps(kind)}).", f"{param}.type")
    text = part.get("text")
    if not isinstance(text, str):
        raise _bad(f"'{param}.text' must be a string, not {_kind(text)}.", f"{param}.text")
    return text


def texts_of(payload: object, settings: Settings) -> list[str]:
    """The comments a request body asks about, one per result; ApiError (400) naming the part at fault."""
    if not isinstance(payload, dict):
        raise _bad(f"The body must be a JSON object, not {_kind(payload)}.", None)
    if "input" not in payload:
        raise _bad("Missing required parameter: 'input'.", "input", "missing_required_parameter")
    model = payload.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad(f"'model' must be a string, not {_kind(model)}.", "model")
    given = payload["input"]
    if isinstance(given, str):
        return [_checked(given, settings, "input")]
    if not isinstance(given, list):
        raise _bad(
            f"'input' must be a string, an array of strings or an array of input objects, not {_kind(given)}.",
            "input",
        )
    if not given:
        raise _bad("'input' is an empty array; send at least one input.", "input", "empty_input")
    if len(given) > settings.MAX_BATCH:
        raise _bad(
            f"'input' has {len(given)} items; the limit is {settings.MAX_BATCH} (MODERATION_MAX_BATCH).",
            "input",
            "too_many_inputs",
        )
    if isinstance(given[0], str):
        for i, item in enumerate(given):
            if not isinstance(item, str):
                raise _bad(
                    f"'input[{i}]' is {_kind(item)} in an array of strings; send strings only, or input "
                    "objects only.",
                    f"input[{i}]",
                )
        return [_checked(item, settings, f"input[{i}]") for i, item in enumerate(given)]
    # An array of parts is one input (OpenAI answers it with one result): its text parts make one comment.
    parts = [_part_text(part, f"input[{i}]") for i, part in enumerate(given)]
    return [_checked("\n".join(parts), settings, "input")]


def _presented_key(request: Request) -> str | None:
    """The key of `Authorization: Bearer <key>` (what the SDK sends); None without one."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    return key if scheme.lower() == "bearer" and key else None


# -- the OpenAPI document's view -----------------------------------------------------------------------------


def _per_category(name: str, kind: Any, description: str) -> type[BaseModel]:
    fields: dict[str, Any] = {
        key.replace("/", "_").replace("-", "_"): (kind, Field(alias=key)) for key in OPENAI_CATEGORIES
    }
    model: type[BaseModel] = create_model(name, __doc__=description, **fields)
    return model


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, requests (429) or server_error (5xx).")
    param: str | None = Field(description="The part of the request at fault, e.g. input[2]; null if none.")
    code: str | None = Field(description="Machine-readable: invalid_json, empty_input, invalid_api_key, ...")


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


ModerationResult = create_model(
    "ModerationResult",
    flagged=(bool, Field(description="Our verdict is review or reject.")),
    categories=(_per_category("Categories", bool, "Which categories our verdict's reasons fall in."), ...),
    category_scores=(_per_category("CategoryScores", float, "The model's probabilities, mapped."), ...),
    category_applied_input_types=(
        _per_category("CategoryAppliedInputTypes", list[str], '["text"] where the input was assessed.'),
        ...,
    ),
)

ModerationResponse = create_model(
    "ModerationResponse",
    id=(str, Field(description="modr-<32 hex>; input i was recorded as the comment <id>-<i>.")),
    model=(str, Field(description="The model that scored the inputs (name:checkpoint hash), or 'none'.")),
    results=(list[ModerationResult], Field(description="One per input, in order.")),
)

#: The request body as the OpenAPI document shows it (parsed by `texts_of`, which says what each refusal is).
REQUEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["input"],
    "properties": {
        "input": {
            "description": "A string, an array of strings (one result each), or an array of text parts (one "
            "input, one result).",
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "text"],
                        "properties": {"type": {"enum": ["text"]}, "text": {"type": "string"}},
                    },
                },
            ],
        },
        "model": {"type": "string", "description": "Accepted and ignored: the service runs its own model."},
    },
}

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OpenAIError, "description": "The request is malformed: not JSON, or an input at fault."},
    401: {
        "model": OpenAIError,
        "description": "The API key is missing or not valid (where keys are required).",
    },
    413: {"model": OpenAIError, "description": "The body is larger than any valid request."},
    503: {"model": OpenAIError, "description": "The model's queue is full; retry after Retry-After seconds."},
}

# -- the route ----------------------------------------------------------------------------------------------------

router = APIRouter(tags=["openai"], route_class=shaped_route(openai_shape))


async def create_moderation(request: Request, pipeline: PipelineDep, settings: SettingsDep) -> Response:
    # The key before the body: a refused client learns nothing about what it sent.
    try:
        site = await site_for_key(request, _presented_key(request))
    except KeyRefused as exc:
        raise ApiError(401, f"{exc.reason}_api_key", str(exc)) from None
    try:
        payload = json.loads(await request.body())
    except ValueError as exc:  # not JSON, or not UTF-8
        raise _bad(
            f"We could not parse the JSON body of your request: {exc}.", None, "invalid_json"
        ) from None
    texts = texts_of(payload, settings)
    response_id = f"modr-{uuid.uuid4().hex}"
    comments = [Comment(text=text, id=f"{response_id}-{i}", site=site) for i, text in enumerate(texts)]
    verdicts = await unless_disconnected(request, pipeline.moderate(comments))
    return JSONResponse(
        {
            "id": response_id,
            "model": pipeline.scorer.model_id,
            "results": [moderation_result(v) for v in verdicts],
        }
    )


for path in ("/v1/moderations", "/moderations"):
    router.add_api_route(
        path,
        create_moderation,
        methods=["POST"],
        response_model=ModerationResponse,
        summary="Moderate text as OpenAI's moderation endpoint does (for the openai SDK)",
        responses=_ERRORS,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": REQUEST_SCHEMA}}}
        },
    )
