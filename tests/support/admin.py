"""Helpers for tests of the moderators' side: a password, and logging a TestClient in (JSON API or dashboard)."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

ADMIN_PASSWORD = "test-password-long-enough"

_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient) -> dict[str, str]:
    """Log `client` in through POST /v1/session; returns the headers a state-changing call needs."""
    response = client.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def csrf_token(page: str) -> str:
    """The CSRF token of the first form on a dashboard page (the login's, or the session's)."""
    found = _CSRF_FIELD.search(page)
    assert found is not None, "no csrf_token field on the page"
    return found.group(1)


def login_form_token(client: TestClient) -> str:
    """Open the dashboard's login form (which sets its cookie) and return the token it carries."""
    return csrf_token(client.get("/dashboard/login").text)


def dashboard_login(client: TestClient, next_path: str = "/dashboard/review") -> httpx.Response:
    """Log `client` in through the dashboard's form; returns the login's (unfollowed) answer."""
    token = login_form_token(client)
    return client.post(
        "/dashboard/login",
        data={"csrf_token": token, "user": "admin", "password": ADMIN_PASSWORD, "next": next_path},
        follow_redirects=False,
    )
