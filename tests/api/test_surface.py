"""What the service shows, and to whom: security headers on every answer, the Host names it answers, and the
API docs pages (service/api/surface.py, TrustedHosts in service/api/errors.py, service/app.py)."""

from __future__ import annotations

import pytest

from service import runtime
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings, production_overrides


def _error_code(response) -> str:
    return response.json()["error"]["code"]


# -- headers -------------------------------------------------------------------------------------------------


def test_every_answer_says_nosniff_and_no_referrer(make_client):
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)
    answers = [
        client.get("/healthz"),
        client.get("/metrics"),
        client.post("/v1/moderate", json={"text": "fine"}),
        client.post("/v1/moderate", json={"text": " "}),  # 422
        client.get("/v1/nope"),  # 404
        client.post("/v1/moderate", content=b"x", headers={"content-type": "text/plain"}),  # 415, BodyGuard
        client.get("/dashboard/login"),
        client.get("/dashboard/static/dashboard.css"),
    ]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
        assert response.headers["referrer-policy"] == "no-referrer", response.request.url


def test_moderators_answers_are_never_cached(make_client):
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)
    client.post("/v1/moderate", json={"text": "What a fucking mess.", "id": "n1"})
    anonymous = [
        client.get("/v1/review"),  # 401
        client.post("/v1/comments/n1/overturn"),  # 401
        client.get("/dashboard", follow_redirects=False),  # 303 to the login
    ]
    csrf = login(client)
    moderator = [
        client.get("/v1/review"),
        client.get("/v1/review/log"),
        client.post("/v1/comments/n1/overturn", headers=csrf),
        client.delete("/v1/session", headers=csrf),
    ]
    for response in anonymous + moderator:
        assert response.headers["cache-control"] == "no-store", response.request.url
    # The public answers may be cached by whoever wants to.
    assert "cache-control" not in client.get("/v1/comments/n1").headers


def test_every_html_page_carries_a_content_security_policy(make_client):
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)
    pages = [
        client.get("/dashboard/login"),
        # The CSRF refusal and the form-too-large page are pages too.
        client.post("/dashboard/login", data={"user": "admin"}),
        client.post("/dashboard/login", content=b"a" * 100_000, headers={"content-type": "text/plain"}),
    ]
    assert [p.status_code for p in pages] == [200, 403, 413]
    for page in pages:
        assert page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert page.headers["x-frame-options"] == "DENY"


def test_a_500_carries_the_headers_too(make_client):
    client = make_client(MarkerScorer())

    async def broken() -> None:
        raise RuntimeError("a bug of ours")

    client.app.add_api_route("/v1/review/broken", broken)
    response = client.get("/v1/review/broken")
    assert response.status_code == 500 and _error_code(response) == "internal_error"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


# -- Host names ----------------------------------------------------------------------------------------------


def test_any_other_host_is_refused_in_the_error_shape(client):
    for path in ("/v1/moderate", "/dashboard/login", "/docs", "/v1/comments/x"):
        response = client.get(path, headers={"host": "evil.example"})
        assert response.status_code == 400 and _error_code(response) == "invalid_host", path
        assert response.json()["error"]["field"] == "Host"
    response = client.post("/v1/moderate", json={"text": "hi"}, headers={"host": "attacker.example:8000"})
    assert response.status_code == 400


def test_development_answers_the_local_names(client):
    for host in ("testserver", "localhost:8000", "127.0.0.1:8000", "LOCALHOST"):
        assert (
            client.get("/v1/comments/x", params={"token": "t"}, headers={"host": host}).status_code == 404
        ), host


def test_probes_answer_any_host(client):
    # Health checks and Prometheus call the container by its IP.
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path, headers={"host": "10.1.2.3:8000"}).status_code == 200, path


def test_allowed_hosts_from_settings(make_client):
    client = make_client(ALLOWED_HOSTS="comments.example.org, *.example.net")
    allowed = ("comments.example.org", "Comments.Example.org:443", "a.example.net", "b.a.example.net")
    for host in allowed:
        assert (
            client.get("/v1/comments/x", params={"token": "t"}, headers={"host": host}).status_code == 404
        ), host
    for host in ("example.net", "testserver", "localhost", "comments.example.org.evil.example", ""):
        assert (
            client.get("/v1/comments/x", params={"token": "t"}, headers={"host": host}).status_code == 400
        ), host


def test_production_does_not_start_without_allowed_hosts():
    from service.config import ExposureConfigError

    settings = make_settings(**production_overrides(ALLOWED_HOSTS=[]))
    with pytest.raises(runtime.StartupError) as raised:
        runtime.load_components(settings, scorer=MarkerScorer())
    assert isinstance(raised.value.__cause__, ExposureConfigError)
    assert "MODERATION_ALLOWED_HOSTS" in str(raised.value)


def test_production_does_not_start_with_a_short_metrics_token():
    settings = make_settings(**production_overrides(METRICS_TOKEN="short"))
    with pytest.raises(runtime.StartupError, match="MODERATION_METRICS_TOKEN is shorter than 32"):
        runtime.load_components(settings, scorer=MarkerScorer())


# -- API docs ------------------------------------------------------------------------------------------------


def test_production_serves_no_docs_pages(make_client):
    client = make_client(MarkerScorer(), **production_overrides())
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        response = client.get(path)
        assert response.status_code == 404 and _error_code(response) == "not_found", path
        assert "/openapi.json" in response.json()["error"]["message"]
    assert client.get("/openapi.json").json()["paths"]["/v1/moderate"]


def test_development_docs_may_load_only_what_they_need(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "script-src 'unsafe-inline' https://cdn.jsdelivr.net;" in csp
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    # The dashboard's pages keep their own, strict policy.
    assert "cdn.jsdelivr.net" not in client.get("/dashboard/login").headers["content-security-policy"]
