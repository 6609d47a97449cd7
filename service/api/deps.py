"""Request dependencies, as Annotated aliases: a handler's signature says what it needs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.config import Settings
from service.moderation.pipeline import Pipeline


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _pipeline(request: Request) -> Pipeline:
    return request.app.state.pipeline


SettingsDep = Annotated[Settings, Depends(_settings)]
PipelineDep = Annotated[Pipeline, Depends(_pipeline)]
