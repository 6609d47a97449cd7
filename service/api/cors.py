"""CORS for the commenter's widget (issue 14): which sites' pages may call the widget's endpoints.

The widget runs in the page of the site that embeds it (news.example), so its calls to this service are
cross-origin, and a browser lets the page read an answer only when the answer names the page's origin. An
origin is allowed when it is in MODERATION_CORS_ORIGINS, or in the origins of a site's API key
(`moderation keys create SITE --origin https://news.example`):

    preflight (OPTIONS with Access-Control-Request-Method)
        it carries no key (a browser sends none in a preflight), so any live key's origins count;
        allowed: 204 with the methods and headers the widget uses, cached by the browser 10 minutes;
        not allowed: 403 `cors_origin_refused` in our error shape
    the request itself
        with X-API-Key: that key's origins (and the setting's): a page of one site cannot read answers
        given to another site's key; without a key: any live key's origins (and the setting's)
        allowed: Access-Control-Allow-Origin names the origin; not allowed: no CORS headers (the browser
        keeps the answer from the page; the request itself is answered as any other)

Only the widget's routes (WIDGET_PATHS, and a comment's status, appeal and statement) take part; the
moderators' API and the dashboard never answer another origin. No cookies: the widget's calls are
credential-free (its keys and tokens travel in headers), so Access-Control-Allow-Credentials is never sent.
Keys that cannot be read (Redis down) allow only the setting's origins.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from service.sites.registry import SiteKeys
from service.store.base import StoreUnavailable

log = logging.getLogger(__name__)

#: The widget's endpoints, exactly, plus a comment's own (status, appeal, statement) under COMMENT_PREFIX.
WIDGET_PATHS = frozenset({"/v1/precheck", "/v1/notice", "/v1/moderate"})
COMMENT_PREFIX = "/v1/comments/"
ALLOW_METHODS = "GET, POST"
ALLOW_HEADERS = "Content-Type, X-API-Key, X-Status-Token, X-Appeal-Token"
#: What the widget reads of an answer besides the safelisted headers: when to ask again after a 429 or 503.
EXPOSE_HEADERS = "Retry-After"
#: How long a browser may reuse a preflight's answer (seconds; Chromium caps it at 7200).
MAX_AGE_S = 600


def is_widget_path(path: str) -> bool:
    if path in WIDGET_PATHS:
        return True
    # A comment's status, appeal and statement; never the moderators' overturn.
    return path.startswith(COMMENT_PREFIX) and not path.endswith("/overturn")


class SiteCors:
    def __init__(self, app: ASGIApp, *, origins: Iterable[str]) -> None:
        self.app = app
        self.origins = frozenset(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_widget_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if scope["method"] == "OPTIONS" and origin and "access-control-request-method" in headers:
            await self._preflight(scope, receive, send, origin)
            return
        allowed = origin is not None and await self._allowed(scope, origin, headers.get("x-api-key"))

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                if allowed and origin is not None:
                    out["Access-Control-Allow-Origin"] = origin
                    out["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope: Scope, receive: Receive, send: Send, origin: str) -> None:
        response: Response
        if await self._allowed(scope, origin, None):
            headers = {
                "Access-Control-Allow-Origin": origin,
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": str(MAX_AGE_S),
                "Vary": "Origin",
            }
            response = Response(status_code=204, headers=headers)
        else:
            response = error_response(
                403,
                "cors_origin_refused",
                f"Pages at {origin} may not call this service: add the origin to MODERATION_CORS_ORIGINS or "
                "to the site's API key (moderation keys create SITE --origin ORIGIN).",
                "Origin",
                headers={"Vary": "Origin"},
            )
        await response(scope, receive, send)

    async def _allowed(self, scope: Scope, origin: str, presented_key: str | None) -> bool:
        if origin in self.origins:
            return True
        keys: SiteKeys | None = getattr(scope["app"].state, "site_keys", None)
        if keys is None:
            return False
        try:
            if presented_key:
                record = await keys.record_of(presented_key)
                return record is not None and origin in record.origins
            return origin in await keys.live_origins()
        except StoreUnavailable as exc:
            log.warning("API keys unreadable, CORS allows only MODERATION_CORS_ORIGINS: %s", exc)
            return False
