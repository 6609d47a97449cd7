"""The JSON API's routers, gathered in one place for the app to include (one router per resource), and
the body limit of each kind of route."""

from __future__ import annotations

from fastapi import APIRouter

from service.api import comments, health, metrics, moderate, review, session
from service.api.coral import coral_shape
from service.api.coral import router as coral_router
from service.api.errors import BodyRule, page_too_large
from service.config import Settings

router = APIRouter()
for resource in (moderate, health, metrics, comments, review, session):
    router.include_router(resource.router)
router.include_router(coral_router)  # Coral Talk's external moderation phase (issue 13)


def body_rules(settings: Settings) -> list[BodyRule]:
    """Each kind of route's body limit, the most specific prefix first (a compatible door's before /v1/)."""
    return [
        # Coral's phase request: its comment's HTML and fields, answered in Coral's shape (issue 13).
        BodyRule("/v1/coral/", settings.CORAL_MAX_BODY_BYTES, json_only=True, shape=coral_shape),
        # No valid request to our JSON API is larger (Settings.max_body_bytes says why).
        BodyRule("/v1/", settings.max_body_bytes, json_only=True),
        BodyRule("/dashboard", settings.FORM_MAX_BYTES, shape=page_too_large),
    ]


def fallback_body_rule(settings: Settings) -> BodyRule:
    """Everything else reads no body worth more than a form."""
    return BodyRule("", settings.FORM_MAX_BYTES)
