"""API keys at the scoring doors: which site a request comes from, and whether it may be scored.

Every scoring door (our /v1/moderate, Perspective's comments:analyze, OpenAI's moderations, Coral's) reads the
key where its own clients put it (X-API-Key, ?key=, Authorization: Bearer) and asks `site_for_key`; a
`KeyRefused` is answered in that door's own error envelope (401).

    no key (None or blank)              required: KeyRefused("missing"); else anonymous (None)
    a live key of ours                  its site, whether or not keys are required
    a key of ours (mod_...) that is     KeyRefused("invalid"), required or not: a client that sends one of
    unknown, wrong or revoked           our keys means to be known, and a revoked key must stop working
    a key not of our form               required: KeyRefused("invalid"); else anonymous: the Perspective or
                                        OpenAI key a client still sends after switching its URL to us
    keys that cannot be read (Redis     required: StoreUnavailable (the door's 503); else anonymous, and
    down, key file unusable)            logged: where keys are optional, scoring does not wait for them

Keys are required with MODERATION_REQUIRE_API_KEY=true, and by default in production. The keys themselves,
their storage and the constant-time check are service/sites/.
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import Depends, Request

from service.config import Settings
from service.sites.apikey import key_id_of
from service.sites.registry import SiteKeys
from service.store.base import StoreUnavailable

log = logging.getLogger(__name__)

MISSING_MESSAGE = "This service requires an API key, and the request has none."
INVALID_MESSAGE = "The API key is not valid: unknown, revoked, or not a key of this service."


class KeyRefused(Exception):
    """The door must refuse the request: no key where one is required ("missing"), or a key that is unknown
    or revoked ("invalid"). `str()` is a message fit for the client."""

    def __init__(self, reason: Literal["missing", "invalid"], message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _site_keys(request: Request) -> SiteKeys:
    keys: SiteKeys = request.app.state.site_keys
    return keys


SiteKeysDep = Annotated[SiteKeys, Depends(_site_keys)]


async def site_for_key(request: Request, presented: str | None) -> str | None:
    """The site the presented API key belongs to; None for an anonymous request where keys are not
    required. Raises KeyRefused, and StoreUnavailable where keys are required and cannot be read."""
    settings: Settings = request.app.state.settings
    required = settings.require_api_key
    if presented is None or not presented.strip():
        if required:
            raise KeyRefused("missing", MISSING_MESSAGE)
        return None
    ours = key_id_of(presented) is not None
    if not ours and not required:
        return None
    try:
        site = await _site_keys(request).site_of(presented)
    except StoreUnavailable as exc:
        if required:
            raise
        log.warning("API key %s not checked, request scored anonymously: %s", key_id_of(presented), exc)
        return None
    if site is None:
        raise KeyRefused("invalid", INVALID_MESSAGE)
    return site
