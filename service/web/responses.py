"""How the dashboard answers: rendered pages, and redirects that stay on the site.

Jinja2 autoescapes every .html template: comment text is untrusted and is only ever output escaped, the
highlighted spans included, which are slices of the original text. Every page's security headers (CSP, no
framing, no caching) are set for all responses at once by service/api/surface.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from service.web.highlight import highlight_segments

WEB_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.filters["highlight"] = highlight_segments


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context.setdefault("session", None)
    context.setdefault("pending", None)
    context.setdefault("flash", request.query_params.get("flash"))
    context.setdefault("flash_kind", request.query_params.get("kind", ""))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def local_path(value: str | None, default: str = "/dashboard") -> str:
    """`value` when it is a dashboard path on this site, else `default` (no open redirects)."""
    if value and value.startswith("/dashboard") and "//" not in value and "\\" not in value:
        return value
    return default


def see_other(path: str) -> RedirectResponse:
    """After a form post, the browser GETs `path` (303), so reloading that page never re-posts the form."""
    return RedirectResponse(path, status_code=303)


def flash_redirect(path: str, message: str, kind: str = "") -> RedirectResponse:
    """A 303 to `path` that shows `message` at the top of the page (`kind` "error" shows it as one)."""
    query = {"flash": message, **({"kind": kind} if kind else {})}
    return see_other(f"{path}{'&' if '?' in path else '?'}{urlencode(query)}")
