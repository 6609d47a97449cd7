"""What every response says about itself: the SecurityHeaders middleware and the policies it applies.

On every response X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer; Cache-Control: no-store
on the moderators' responses (ADMIN_PREFIXES and overturns, error answers included); on every HTML response
a Content-Security-Policy and X-Frame-Options: DENY.

It sits outside FastAPI's exception handling, so it covers the error answers too; only the 500 answer is sent
by Starlette's outermost middleware, past it, and service/api/errors.py gives that one BASE_HEADERS itself.
Which Host names are answered (TrustedHosts) and how large a body may be (BodyGuard) are guards that answer
with errors: they live in errors.py.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: Every response: no content sniffing (a JSON error quoting a client's text never becomes a page), and no
#: Referer leaving the dashboard with comment ids or filters in its URL.
BASE_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}

#: The moderators' answers (what a moderator reads, their session), never kept by a browser or proxy cache.
ADMIN_PREFIXES = ("/v1/review", "/v1/session", "/dashboard")

#: The dashboard's pages and every other page the service answers (error pages, the CSRF refusal): no script
#: but the dashboard's own file, nothing loaded from elsewhere, no framing, forms only to this site.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

#: /docs (Swagger UI) and /redoc, served in development only: FastAPI's pages load their scripts and styles
#: from cdn.jsdelivr.net, ReDoc's fonts from Google Fonts, the favicon from fastapi.tiangolo.com, and run an
#: inline script. This policy allows exactly that, on those paths alone.
DOCS_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "connect-src 'self'; worker-src blob:; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc")

#: Answer any Host: container health checks, load balancers and Prometheus address the service by its IP.
#: /readyz says no more than ready / not ready and /metrics nothing without the metrics token.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def is_admin_path(path: str) -> bool:
    return path.startswith(ADMIN_PREFIXES) or (
        path.startswith("/v1/comments/") and path.endswith("/overturn")
    )


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in BASE_HEADERS.items():
                    headers.setdefault(name, value)
                if is_admin_path(path):
                    headers["Cache-Control"] = "no-store"
                if headers.get("content-type", "").lower().startswith("text/html"):
                    docs = path.startswith(DOCS_PATHS)
                    headers.setdefault(
                        "Content-Security-Policy",
                        DOCS_CONTENT_SECURITY_POLICY if docs else CONTENT_SECURITY_POLICY,
                    )
                    headers.setdefault("X-Frame-Options", "DENY")
            await send(message)

        await self.app(scope, receive, send_with_headers)
