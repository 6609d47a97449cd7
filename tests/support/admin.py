"""Helpers for tests of the moderators' API: a password, and logging a TestClient in."""

from __future__ import annotations

from fastapi.testclient import TestClient

ADMIN_PASSWORD = "test-password-long-enough"


def login(client: TestClient) -> dict[str, str]:
    """Log `client` in through POST /v1/session; returns the headers a state-changing call needs."""
    response = client.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}
