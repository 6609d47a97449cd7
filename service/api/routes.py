"""The JSON API's routers, gathered in one place for the app to include (one router per resource)."""

from __future__ import annotations

from fastapi import APIRouter

from service.api import comments, health, metrics, moderate, review, session

router = APIRouter()
for resource in (moderate, health, metrics, comments, review, session):
    router.include_router(resource.router)
