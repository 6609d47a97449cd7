"""/dashboard/suggestions: the suggested scores, newest first, the text escaped and its spans marked."""

from __future__ import annotations

import json
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.support.admin import ADMIN_PASSWORD, dashboard_login


def _suggest(client: TestClient, text: str, value: float, **extra: object) -> None:
    body = {
        "comment": {"text": text},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": value}}},
        **extra,
    }
    response = client.post(
        "/v1alpha1/comments:suggestscore",
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


def test_the_page_needs_a_moderator(app: TestClient) -> None:
    response = app.get("/dashboard/suggestions", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard/login?next=%2Fdashboard%2Fsuggestions"


def test_suggestions_are_shown_escaped_with_their_spans_marked(app: TestClient) -> None:
    _suggest(app, "An older one", 0)
    hostile = "<script>alert(1)</script> you clown"
    spans = {"INSULT": {"spanScores": [{"begin": 30, "end": 35, "score": {"value": 1}}]}}
    body = {
        "comment": {"text": hostile},
        "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}, **spans},
        "communityId": "Coral:https://news.example",
        "clientToken": "comment:c1",
        "context": {"entries": [{"text": '{"url":"https://news.example/a"}'}]},
    }
    assert app.post("/v1alpha1/comments:suggestscore", json=body).status_code == 200
    dashboard_login(app)
    page = app.get("/dashboard/suggestions").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; you <mark>clown</mark>" in page
    assert "Coral:https://news.example" in page and "comment:c1" in page and "https://news.example/a" in page
    assert page.index("you <mark>clown") < page.index("An older one")  # newest first
    assert '<span class="meta">2 kept</span>' in page
    assert 'href="/dashboard/suggestions" class="current"' in page


def test_older_suggestions_are_a_page_further(make_client: Callable[..., TestClient]) -> None:
    client = make_client(ADMIN_PASSWORD=ADMIN_PASSWORD)
    for i in range(27):
        _suggest(client, f"comment number {i:02d}", 1)
    dashboard_login(client)
    first = client.get("/dashboard/suggestions").text
    assert "comment number 26" in first and "comment number 02" in first and "comment number 01" not in first
    older = first.split('<a id="older" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(older).text
    assert (
        "comment number 01" in second and "comment number 00" in second and "comment number 02" not in second
    )
    assert 'id="older"' not in second
    # A hand-edited cursor starts from the newest again.
    assert "comment number 26" in client.get("/dashboard/suggestions?before=nonsense").text
