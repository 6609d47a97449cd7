"""The moderators' dashboard: /dashboard (overview), /dashboard/rejections, /dashboard/review, login, logout.

Server-rendered with Jinja2 (autoescape on: comment text is untrusted and is only ever output escaped, the
highlighted spans included, which are slices of the original text). Static files are served from the package;
nothing is fetched from elsewhere. Every page needs the moderator's session (anonymous requests are sent to
the login) and every POST the session's CSRF token.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from service.api.deps import AuthDep, DecisionsDep, PipelineDep
from service.api.session import set_session_cookie
from service.auth import CSRF_FIELD, LOGIN_CSRF_COOKIE, SESSION_COOKIE, AdminAuth, Session
from service.moderation.types import ACTIONS, CLAUSES, VERDICTS
from service.review.models import COUNTED, CommentNotFound, DecisionConflict
from service.web.charts import stacked_bars
from service.web.highlight import highlight_segments

WEB_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")  # autoescapes .html
templates.env.filters["highlight"] = highlight_segments
static_files = StaticFiles(directory=WEB_DIR / "static")

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)


class LoginRequired(Exception):
    """Raised by pages when there is no valid session; answered with a redirect to the login."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def login_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/dashboard/login?{urlencode({'next': exc.next_path})}", status_code=303)


class CsrfRefused(Exception):
    """A state-changing form without the session's CSRF token (a forged or stale post)."""


def csrf_refused(request: Request, exc: Exception) -> Response:
    return HTMLResponse(
        "<!doctype html><title>Refused</title><p>This form was refused: its security token is missing or "
        'stale. <a href="/dashboard">Reload the dashboard</a> and try again.</p>',
        status_code=403,
    )


def _local_path(value: str | None, default: str = "/dashboard") -> str:
    """`value` when it is a dashboard path on this site, else `default` (no open redirects)."""
    if value and value.startswith("/dashboard") and "//" not in value and "\\" not in value:
        return value
    return default


def _session(request: Request) -> Session:
    auth: AdminAuth = request.app.state.auth
    session = auth.read_session(request.cookies.get(SESSION_COOKIE))
    if session is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method == "GET" else "/dashboard")
    return session


async def _form(request: Request, session: Session) -> dict[str, str]:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if not AdminAuth.csrf_ok(session, values.get(CSRF_FIELD)):
        raise CsrfRefused()
    return values


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context.setdefault("session", None)
    context.setdefault("pending", None)
    context.setdefault("flash", request.query_params.get("flash"))
    context.setdefault("flash_kind", request.query_params.get("kind", ""))
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    # The pages run no inline script and load nothing from elsewhere; say so to the browser.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    return response


def _flash(path: str, message: str, kind: str = "") -> str:
    query = {"flash": message, **({"kind": kind} if kind else {})}
    return f"{path}{'&' if '?' in path else '?'}{urlencode(query)}"


# -- login -------------------------------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, auth: AuthDep, next: str = "/dashboard") -> Response:
    if auth.read_session(request.cookies.get(SESSION_COOKIE)) is not None:
        return RedirectResponse(_local_path(next), status_code=303)
    token = secrets.token_urlsafe(24)
    response = _render(request, "login.html", {"login_csrf": token, "next": _local_path(next), "error": None})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=3600,
        path="/dashboard/login",
        httponly=True,
        samesite="strict",
        secure=auth.secure_cookies,
    )
    return response


@router.post("/login")
async def login(request: Request, auth: AuthDep) -> Response:
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    form_token = values.get(CSRF_FIELD) or ""
    if not cookie_token or not secrets.compare_digest(cookie_token, form_token):
        raise CsrfRefused()
    next_path = _local_path(values.get("next"))
    if not auth.check_login(values.get("user", ""), values.get("password", "")):
        return _render(
            request,
            "login.html",
            {"login_csrf": cookie_token, "next": next_path, "error": "Wrong user or password."},
            status_code=401,
        )
    _, cookie = auth.new_session()
    response = RedirectResponse(next_path, status_code=303)
    set_session_cookie(response, auth, cookie)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/dashboard/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    await _form(request, _session(request))
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages -------------------------------------------------------------------------------------------------


def _ratio(hits: int, misses: int) -> str:
    return f"{hits / (hits + misses):.0%}" if hits + misses else "—"


@router.get("")
async def overview(request: Request, pipeline: PipelineDep, decisions: DecisionsDep) -> Response:
    session = _session(request)
    counts = await decisions.counts()
    verdicts = {v: f"verdict:{v}" for v in VERDICTS}
    rows = [
        (f"{d}:{v}", f"{d} {v}".replace("verdict ", "").replace("decision ", "moderator: "))
        for d, values in COUNTED
        if d != "cache"
        for v in values
    ]
    try:
        wordlist_version = pipeline.wordlists.current().version
    except Exception:  # the overview must render even when the word lists are broken; /readyz says why
        wordlist_version = "unavailable"
    context = {
        "session": session,
        "page": "overview",
        "pending": await decisions.queue_size(),
        "log_length": await decisions.log_length(),
        "counts": counts,
        "rows": rows,
        "hit_ratio_hour": _ratio(counts.last_hour("cache:hit"), counts.last_hour("cache:miss")),
        "hit_ratio_day": _ratio(counts.last_day("cache:hit"), counts.last_day("cache:miss")),
        "model": pipeline.scorer.model_id,
        "policy_version": pipeline.policy.version,
        "wordlist_version": wordlist_version,
        "store": pipeline.store.describe(),
        "hour_chart": stacked_bars(
            counts.minute_starts,
            {v: counts.minutes[k] for v, k in verdicts.items()},
            label_format="%H:%M",
            tick_every=10,
        ),
        "day_chart": stacked_bars(
            counts.hour_starts,
            {v: counts.hours[k] for v, k in verdicts.items()},
            label_format="%H:00",
            tick_every=4,
        ),
        "clause_chart": stacked_bars(
            counts.hour_starts,
            {c: counts.hours[f"clause:{c}"] for c in CLAUSES},
            label_format="%H:00",
            tick_every=4,
        ),
    }
    return _render(request, "overview.html", context)


def _parse_local(value: str | None) -> int | None:
    """A datetime-local value (read as UTC) as ms since the epoch; None when empty or unreadable."""
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        return None


@router.get("/rejections")
async def rejections(
    request: Request,
    decisions: DecisionsDep,
    verdict: str = "reject",
    clause: str | None = None,
    article: str | None = None,
    since: str | None = None,
    until: str | None = None,
    before: str | None = None,
) -> Response:
    session = _session(request)
    verdict = verdict if verdict in ACTIONS else "reject"
    clause = clause if clause in CLAUSES else None
    if before is not None and not all(p.isdigit() for p in before.split("-", 1)):
        before = None
    page = await decisions.entries(
        before=before,
        kind="verdict",
        verdict=verdict,
        clause=clause,
        article_id=article or None,
        since_ms=_parse_local(since),
        until_ms=_parse_local(until),
        page_size=25,
    )
    filters = {"verdict": verdict, "clause": clause, "article": article, "since": since, "until": until}
    query = {k: v for k, v in filters.items() if v}
    older_url = "/dashboard/rejections?" + urlencode({**query, "before": page.next_before or ""})
    back = "/dashboard/rejections?" + urlencode({**query, **({"before": before} if before else {})})
    context = {
        "session": session,
        "page": "rejections",
        "pending": await decisions.queue_size(),
        "filters": filters,
        "clauses": CLAUSES,
        "log_page": page,
        "statuses": await decisions.statuses([r.comment_id for r in page.records]),
        "older_url": older_url,
        "back": back,
    }
    return _render(request, "rejections.html", context)


@router.get("/review")
async def review_page(request: Request, decisions: DecisionsDep) -> Response:
    session = _session(request)
    items = await decisions.queue(0, 6)
    context = {
        "session": session,
        "page": "review",
        "pending": await decisions.queue_size(),
        "item": items[0] if items else None,
        "upcoming": items[1:],
    }
    return _render(request, "review.html", context)


@router.post("/review/{comment_id}")
async def review_decide(request: Request, comment_id: str, decisions: DecisionsDep) -> Response:
    session = _session(request)
    form = await _form(request, session)
    decision = form.get("decision")
    if decision not in ("approve", "reject"):
        return RedirectResponse(
            _flash("/dashboard/review", "Choose approve or reject.", "error"), status_code=303
        )
    try:
        await decisions.decide(comment_id, decision, session.user, form.get("note", "")[:2000])
    except (CommentNotFound, DecisionConflict) as exc:
        message = str(exc) if isinstance(exc, DecisionConflict) else f"Comment {comment_id} is unknown."
        return RedirectResponse(_flash("/dashboard/review", message, "error"), status_code=303)
    done = "Approved" if decision == "approve" else "Rejected"
    return RedirectResponse(_flash("/dashboard/review", f"{done} comment {comment_id}."), status_code=303)


@router.post("/comments/{comment_id}/overturn")
async def overturn(request: Request, comment_id: str, decisions: DecisionsDep) -> Response:
    session = _session(request)
    form = await _form(request, session)
    back = _local_path(form.get("back"), "/dashboard/rejections")
    try:
        status = await decisions.overturn(comment_id, session.user, form.get("note", "")[:2000])
    except (CommentNotFound, DecisionConflict) as exc:
        message = str(exc) if isinstance(exc, DecisionConflict) else f"Comment {comment_id} is unknown."
        return RedirectResponse(_flash(back, message, "error"), status_code=303)
    return RedirectResponse(_flash(back, f"Comment {comment_id} is now {status.status}."), status_code=303)
