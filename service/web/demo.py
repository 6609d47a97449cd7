"""The commenter's widget (issue 14) as the service serves it: /widget.js and /widget.css for sites to embed,
and /demo, an article of our own with the widget on its comment form, so that `make run` shows the whole
commenter's experience.

    GET  /widget.js, /widget.css   the widget (service/web/widget/), cached an hour by browsers and proxies,
                                   loadable by any site's page (Cross-Origin-Resource-Policy: cross-origin)
    GET  /demo                     the article and its comment form with the widget (which shows the notice)
    POST /demo/comments            the demo site's own server: it checks the comment's status itself (the
                                   hidden inputs the widget adds) or, without them (the service was slow or
                                   down when the commenter submitted), moderates the text itself, and says
                                   what became of the comment

/demo is on in development and off elsewhere unless MODERATION_DEMO_PAGE=true: it is a page of ours, not a
site's. The widget's files are always served.
"""

from __future__ import annotations

import functools
import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from service.api.deps import DecisionsDep, PipelineDep, SettingsDep
from service.api.errors import ApiError
from service.config import Settings
from service.moderation.types import Comment, is_comment_id
from service.review.models import CommentNotFound
from service.store.base import StoreUnavailable
from service.web.responses import WEB_DIR, templates

router = APIRouter(include_in_schema=False, tags=["widget"])

WIDGET_DIR = WEB_DIR / "widget"
#: An hour: a site's pages pick up a new widget within the hour, and a commenter's browser asks once.
WIDGET_CACHE_CONTROL = "public, max-age=3600"
#: The site the demo's own server-side checks are recorded under (the dashboard's site filter).
DEMO_SITE = "demo"
DEMO_ARTICLE = "demo-seed-library"


@functools.cache
def _read(name: str) -> tuple[bytes, str]:
    """A widget file's bytes and its ETag (read once: they change only with a new release of the service)."""
    body = (WIDGET_DIR / name).read_bytes()
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def _asset(request: Request, name: str, media_type: str) -> Response:
    body, etag = _read(name)
    headers = {
        "Cache-Control": WIDGET_CACHE_CONTROL,
        "ETag": etag,
        # A site's page loads these from our origin: a cross-origin isolated page needs this to do so.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get("/widget.js")
async def widget_js(request: Request) -> Response:
    return _asset(request, "widget.js", "text/javascript; charset=utf-8")


@router.get("/widget.css")
async def widget_css(request: Request) -> Response:
    return _asset(request, "widget.css", "text/css; charset=utf-8")


def _demo_on(settings: Settings) -> None:
    enabled = settings.DEMO_PAGE if settings.DEMO_PAGE is not None else settings.ENVIRONMENT == "development"
    if not enabled:
        raise ApiError(404, "demo_off", "The demo page is off here (MODERATION_DEMO_PAGE).")


@router.get("/demo")
async def demo(request: Request, settings: SettingsDep) -> HTMLResponse:
    _demo_on(settings)
    # The notice itself comes from the widget (GET /v1/notice), as on any site that embeds it.
    return templates.TemplateResponse(request, "demo.html", {"article_id": DEMO_ARTICLE})


@router.get("/demo/demo.css")
async def demo_css(request: Request, settings: SettingsDep) -> Response:
    _demo_on(settings)
    return _asset(request, "demo.css", "text/css; charset=utf-8")


_OUTCOMES = {
    True: ("posted", "Comment posted", "Your comment is published under the article."),
    None: ("held", "Comment awaits a moderator", "Your comment will appear once a moderator has read it."),
    False: ("refused", "Comment not published", "Your comment breaks the notice and was not published."),
}


@router.post("/demo/comments")
async def demo_comment(
    request: Request, settings: SettingsDep, pipeline: PipelineDep, decisions: DecisionsDep
) -> Response:
    """What a site's server does with a comment the widget let through: it trusts nothing the browser says
    about the verdict, and reads the comment's status with its token, or moderates the text itself."""
    _demo_on(settings)
    form = await request.form()
    text = str(form.get("comment") or "")
    comment_id = str(form.get("moderation_comment_id") or "")
    token = str(form.get("moderation_status_token") or "")
    if not text.strip() or len(text) > settings.MAX_CHARS:
        return _answer(
            request,
            "empty",
            "Nothing posted",
            f"Write a comment (at most {settings.MAX_CHARS} characters) first.",
            text,
            400,
        )
    publish: bool | None
    checked = "status"
    try:
        if not (comment_id and token and is_comment_id(comment_id)):
            raise CommentNotFound(comment_id)
        publish = (await decisions.public_status(comment_id, token)).publish
    except (CommentNotFound, StoreUnavailable):
        # No verdict came with the form (the service was away when it was sent), or not one we can
        # confirm: the site's own check decides, here by moderating the text itself.
        checked = "server"
        (verdict,) = await pipeline.moderate([Comment(text=text, article_id=DEMO_ARTICLE, site=DEMO_SITE)])
        publish = {"accept": True, "review": None}.get(verdict.verdict, False)
    kind, title, message = _OUTCOMES[publish]
    return _answer(request, kind, title, message, text, 200, checked=checked)


def _answer(
    request: Request, kind: str, title: str, message: str, text: str, status: int, checked: str = ""
) -> HTMLResponse:
    context = {"kind": kind, "title": title, "message": message, "text": text, "checked": checked}
    return templates.TemplateResponse(request, "demo_posted.html", context, status_code=status)
