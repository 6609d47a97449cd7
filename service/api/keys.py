"""API keys at the scoring doors: which site a request comes from, and whether it may be scored.

Every scoring door (our /v1/moderate, Perspective's comments:analyze, OpenAI's moderations, Coral's) reads the
key where its own clients put it and asks `site_for_key`; a `KeyRefused` is answered in that door's own
error envelope.

Not built yet: this is the interface the doors code against while the keys themselves are built (issue 13,
part 1); until then every request is anonymous and nothing is refused.
"""

from __future__ import annotations

from typing import Literal

from fastapi import Request


class KeyRefused(Exception):
    """The door must refuse the request: no key where one is required ("missing"), or a key that is unknown
    or revoked ("invalid"). `str()` is a message fit for the client."""

    def __init__(self, reason: Literal["missing", "invalid"], message: str) -> None:
        super().__init__(message)
        self.reason = reason


async def site_for_key(request: Request, presented: str | None) -> str | None:
    """The site the presented API key belongs to; None for an anonymous request where keys are not
    required. Raises KeyRefused."""
    return None
