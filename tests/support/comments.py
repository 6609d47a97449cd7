"""Reading a comment's status as the site does: with the status token its verdict carried."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def moderate(client: TestClient, comment_id: str, text: str, **extra: Any) -> dict[str, Any]:
    """POST /v1/moderate; the verdict (which carries the status token), asserting a 200."""
    response = client.post("/v1/moderate", json={"text": text, "id": comment_id, **extra})
    assert response.status_code == 200, response.text
    verdict: dict[str, Any] = response.json()
    return verdict


def status(client: TestClient, verdict: dict[str, Any]) -> dict[str, Any]:
    """GET /v1/comments/{id} with the verdict's status token; the status body, asserting a 200."""
    response = client.get(
        f"/v1/comments/{verdict['id']}", headers={"X-Status-Token": verdict["status_token"]}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
