"""Request dependencies, as Annotated aliases: a handler's signature says what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.api.errors import ApiError
from service.auth import CSRF_HEADER, AdminAuth, LoginLimiter, Session, Sessions
from service.config import Settings
from service.moderation.pipeline import Pipeline
from service.review.log import DecisionLog


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline = request.app.state.pipeline
    return pipeline


SettingsDep = Annotated[Settings, Depends(_settings)]
PipelineDep = Annotated[Pipeline, Depends(_pipeline)]


def _decisions(request: Request) -> DecisionLog:
    decisions: DecisionLog = request.app.state.decisions
    return decisions


def _auth(request: Request) -> AdminAuth:
    auth: AdminAuth = request.app.state.auth
    return auth


DecisionsDep = Annotated[DecisionLog, Depends(_decisions)]
AuthDep = Annotated[AdminAuth, Depends(_auth)]


def _sessions(request: Request) -> Sessions:
    sessions: Sessions = request.app.state.sessions
    return sessions


def _login_limiter(request: Request) -> LoginLimiter:
    limiter: LoginLimiter = request.app.state.login_limiter
    return limiter


SessionsDep = Annotated[Sessions, Depends(_sessions)]
LoginLimiterDep = Annotated[LoginLimiter, Depends(_login_limiter)]


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
