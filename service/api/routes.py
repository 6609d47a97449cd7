"""The JSON API's routers, gathered in one place for the app to include (one router per resource), and
the body limit of each kind of route."""

from __future__ import annotations

from fastapi import APIRouter

from service.api import (
    appeals,
    comments,
    coral,
    health,
    metrics,
    moderate,
    openai_moderation,
    perspective,
    precheck,
    review,
    session,
)
from service.api.errors import BodyRule, page_too_large
from service.config import Settings

router = APIRouter()
# The scoring doors first: they carry the traffic, and FastAPI matches a request against each router in this
# order (measured: routing to /v1/moderations behind every other router took 30-70 us more a request than
# right after /v1/moderate, a few percent of a word-list-only request).
# The compatible doors (issue 13: other services' APIs) answer in their own error envelopes.
for resource in (moderate, openai_moderation, perspective, coral, health, metrics, comments, review, session):
    router.include_router(resource.router)
# The commenter's appeal and statement of reasons (issue 14).
router.include_router(appeals.router)
# The commenter's widget (issue 14): the pre-check while the comment is written, and the notice.
router.include_router(precheck.router)


def body_rules(settings: Settings) -> list[BodyRule]:
    """Each kind of route's body limit, the most specific prefix first (a compatible door's before /v1/)."""
    return [
        # Perspective's API: a comment of at most 20 KB (Settings.perspective_max_body_bytes says why).
        BodyRule(
            "/v1alpha1/",
            settings.perspective_max_body_bytes,
            json_only=True,
            shape=perspective.perspective_shape,
        ),
        # OpenAI's moderation endpoint, with and without the SDK's /v1: as large as our own batch (MAX_BATCH
        # inputs of MAX_CHARS), and its 413 and non-JSON answers in OpenAI's envelope.
        BodyRule(
            "/v1/moderations", settings.max_body_bytes, json_only=True, shape=openai_moderation.openai_shape
        ),
        BodyRule(
            "/moderations", settings.max_body_bytes, json_only=True, shape=openai_moderation.openai_shape
        ),
        # Coral's phase request: its comment's HTML and fields, answered in Coral's shape (issue 13).
        BodyRule("/v1/coral/", settings.CORAL_MAX_BODY_BYTES, json_only=True, shape=coral.coral_shape),
        # A pre-check is one comment: MAX_CHARS characters escaped at worst (Settings.max_body_bytes says how).
        BodyRule("/v1/precheck", settings.MAX_CHARS * 12 + 4096, json_only=True),
        # No valid request to our JSON API is larger (Settings.max_body_bytes says why).
        BodyRule("/v1/", settings.max_body_bytes, json_only=True),
        BodyRule("/dashboard", settings.FORM_MAX_BYTES, shape=page_too_large),
    ]


def fallback_body_rule(settings: Settings) -> BodyRule:
    """Everything else reads no body worth more than a form."""
    return BodyRule("", settings.FORM_MAX_BYTES)
