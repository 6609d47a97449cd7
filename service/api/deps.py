"""Request dependencies, as Annotated aliases: a handler's signature says what it needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request

from service.api.errors import ApiError
from service.auth import CSRF_HEADER, AdminAuth, LoginLimiter, Session, Sessions
from service.config import Settings
from service.moderation.pipeline import Pipeline
from service.review.log import DecisionLog
from service.review.suggestions import SuggestionLog


def _state(attribute: str) -> Callable[[Request], Any]:
    """A dependency that reads one of the objects the app's lifespan put on `app.state`."""

    def read(request: Request) -> Any:
        return getattr(request.app.state, attribute)

    read.__name__ = f"app_state_{attribute}"
    return read


SettingsDep = Annotated[Settings, Depends(_state("settings"))]
PipelineDep = Annotated[Pipeline, Depends(_state("pipeline"))]
DecisionsDep = Annotated[DecisionLog, Depends(_state("decisions"))]
SuggestionsDep = Annotated[SuggestionLog, Depends(_state("suggestions"))]
AuthDep = Annotated[AdminAuth, Depends(_state("auth"))]
SessionsDep = Annotated[Sessions, Depends(_state("sessions"))]
LoginLimiterDep = Annotated[LoginLimiter, Depends(_state("login_limiter"))]


async def _admin(request: Request, auth: AuthDep, sessions: SessionsDep) -> Session:
    """The moderator's session, for the JSON admin API: 401 without one (absent, forged, ended, expired),
    403 when an unsafe request lacks the session's CSRF token in X-CSRF-Token."""
    session = await sessions.read(request.cookies.get(auth.cookie_name))
    if session is None:
        raise ApiError(
            401, "unauthorized", "Log in first: POST /v1/session with the admin user and password."
        )
    if request.method not in ("GET", "HEAD", "OPTIONS") and not auth.csrf_ok(
        session, request.headers.get(CSRF_HEADER)
    ):
        raise ApiError(
            403, "csrf_failed", f"Send the session's CSRF token (from POST /v1/session) in {CSRF_HEADER}."
        )
    return session


AdminDep = Annotated[Session, Depends(_admin)]
