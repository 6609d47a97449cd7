"""How the dashboard answers: rendered pages, and redirects that stay on the site.

Jinja2 autoescapes every .html template: comment text is untrusted and is only ever output escaped, the
highlighted spans included, which are slices of the original text. Text from outside (comments, ids, notes)
goes through the `reveal` filter (service/web/bidi.py): each piece isolated in <bdi>, its bidi controls shown
as visible marks instead of reordering the page. Every page's security headers (CSP, no framing, no caching)
are set for all responses at once by service/api/surface.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from service.store.base import LogCursor
from service.web.bidi import reveal
from service.web.flash import clear_flash, read_flash, set_flash
from service.web.highlight import highlight_segments

WEB_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")
templates.env.filters["highlight"] = highlight_segments
templates.env.filters["reveal"] = reveal


def page_cursor(before: str | None) -> LogCursor | None:
    """A page's `before` link parameter as a log position; None (start from the newest) when it is absent
    or does not parse: a stale or hand-edited link is not an error on a page."""
    if before is None:
        return None
    try:
        return LogCursor.parse(before)
    except ValueError:
        return None


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context.setdefault("session", None)
    context.setdefault("pending", None)
    flash = read_flash(request)
    context.setdefault("flash", flash.message if flash else None)
    context.setdefault("flash_kind", flash.kind if flash else "")
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    clear_flash(request, response)
    return response


def local_path(value: str | None, default: str = "/dashboard") -> str:
    """`value` when it is a dashboard path on this site, else `default` (no open redirects)."""
    if value and value.startswith("/dashboard") and "//" not in value and "\\" not in value:
        return value
    return default


def see_other(path: str) -> RedirectResponse:
    """After a form post, the browser GETs `path` (303), so reloading that page never re-posts the form."""
    return RedirectResponse(path, status_code=303)


def flash_redirect(request: Request, path: str, message: str, kind: str = "") -> RedirectResponse:
    """A 303 to `path` whose page shows `message` at the top (`kind` "error" shows it as one)."""
    response = see_other(path)
    set_flash(request, response, message, kind)
    return response
