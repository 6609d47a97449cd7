"""CORS for the widget's endpoints through the real app (issue 14): origins from MODERATION_CORS_ORIGINS and
from the sites' API keys, preflights answered or refused, a key's origins for its own requests only, and the
moderators' API never open to another origin."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.config import Settings
from tests.support.keys import issue_key, revoke_key

NEWS = "https://news.example"


def _preflight(client: TestClient, path: str, origin: str, headers: str = "content-type") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


def _post(client: TestClient, path: str, origin: str, key: str | None = None) -> Any:
    headers = {"Origin": origin, **({"X-API-Key": key} if key else {})}
    return client.post(path, json={"text": "A kind word."}, headers=headers)


def _issue(client: TestClient, site: str, *origins: str) -> str:
    keys = client.app.state.site_keys  # type: ignore[attr-defined]
    assert client.portal is not None
    return client.portal.call(keys.create, site, list(origins)).key


@pytest.mark.parametrize("path", ["/v1/precheck", "/v1/moderate", "/v1/comments/c-1/appeal", "/v1/notice"])
def test_a_preflight_from_a_configured_origin_is_answered(make_client, path):
    client = make_client(CORS_ORIGINS=f"{NEWS}, http://localhost:3000")
    response = _preflight(client, path, NEWS, "content-type, x-api-key")
    assert response.status_code == 204, response.text
    assert response.headers["Access-Control-Allow-Origin"] == NEWS
    assert set(response.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST"}
    allowed = {h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"content-type", "x-api-key", "x-status-token", "x-appeal-token"} <= allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert response.headers["Vary"] == "Origin"


def test_a_preflight_from_another_origin_is_refused_in_our_shape(make_client):
    client = make_client(CORS_ORIGINS=NEWS)
    for origin in (
        "https://evil.example",
        "null",
        "https://news.example.evil.example",
        "http://news.example",
    ):
        response = _preflight(client, "/v1/precheck", origin)
        assert response.status_code == 403, origin
        assert response.json()["error"]["code"] == "cors_origin_refused"
        assert "Access-Control-Allow-Origin" not in response.headers


def test_answers_name_an_allowed_origin_and_no_other(make_client):
    client = make_client(CORS_ORIGINS=NEWS)
    allowed = _post(client, "/v1/precheck", NEWS)
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == NEWS
    assert allowed.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert "Origin" in allowed.headers["Vary"]
    other = _post(client, "/v1/moderate", "https://evil.example")
    assert other.status_code == 200  # answered, but a browser keeps it from the page
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Origin" in other.headers["Vary"]


def test_errors_carry_the_cors_headers_so_the_widget_can_read_them(make_client):
    client = make_client(CORS_ORIGINS=NEWS, PRECHECK_LIMIT_PER_IP="1/minute")
    assert _post(client, "/v1/precheck", NEWS).status_code == 200
    refused = _post(client, "/v1/precheck", NEWS)
    assert refused.status_code == 429
    assert refused.headers["Access-Control-Allow-Origin"] == NEWS
    too_large = client.post(
        "/v1/precheck",
        content=b"x" * 200_000,
        headers={"Origin": NEWS, "content-type": "application/json"},
    )
    assert (too_large.status_code, too_large.headers["Access-Control-Allow-Origin"]) == (413, NEWS)


def test_by_default_no_origin_is_allowed(client):
    assert Settings().CORS_ORIGINS == []
    assert _preflight(client, "/v1/precheck", NEWS).status_code == 403
    assert "Access-Control-Allow-Origin" not in _post(client, "/v1/precheck", NEWS).headers


@pytest.mark.parametrize(
    "path", ["/v1/review", "/v1/session", "/v1/comments/c-1/overturn", "/dashboard", "/v1/moderate/batch"]
)
def test_the_moderators_api_and_other_routes_take_no_part(make_client, path):
    client = make_client(CORS_ORIGINS=NEWS)
    response = _preflight(client, path, NEWS)
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.status_code in (401, 405)


def test_a_keys_origins_are_allowed_for_its_own_requests(make_client):
    client = make_client()
    news_key = _issue(client, "news.example", NEWS, "https://www.news.example")
    blog_key = _issue(client, "blog.example", "https://blog.example")
    # A preflight carries no key: any live key's origins are answered.
    assert _preflight(client, "/v1/precheck", "https://www.news.example").status_code == 204
    assert _preflight(client, "/v1/precheck", "https://blog.example").status_code == 204
    assert _preflight(client, "/v1/precheck", "https://evil.example").status_code == 403
    # The request itself: the key's own origins only.
    assert _post(client, "/v1/precheck", NEWS, news_key).headers["Access-Control-Allow-Origin"] == NEWS
    assert "Access-Control-Allow-Origin" not in _post(client, "/v1/precheck", NEWS, blog_key).headers
    # Without a key (allowed where keys are optional): any live key's origin.
    assert _post(client, "/v1/precheck", NEWS).headers["Access-Control-Allow-Origin"] == NEWS


def test_a_revoked_keys_origins_stop_at_once(make_client):
    client = make_client()
    key = _issue(client, "news.example", NEWS)
    assert _preflight(client, "/v1/moderate", NEWS).status_code == 204
    revoke_key(client, key)
    assert _preflight(client, "/v1/moderate", NEWS).status_code == 403
    assert "Access-Control-Allow-Origin" not in _post(client, "/v1/moderate", NEWS, None).headers


def test_a_key_without_origins_adds_none(make_client):
    client = make_client(CORS_ORIGINS=NEWS)
    key = issue_key(client, "news.example")
    assert _post(client, "/v1/precheck", NEWS, key).headers["Access-Control-Allow-Origin"] == NEWS
    assert (
        "Access-Control-Allow-Origin" not in _post(client, "/v1/precheck", "https://x.example", key).headers
    )


def test_key_origins_in_redis(make_client, redis_url, key_prefix):
    client = make_client(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    key = _issue(client, "news.example", NEWS)
    # Another worker on the same Redis answers the same.
    other = make_client(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    assert _preflight(other, "/v1/precheck", NEWS).status_code == 204
    assert _post(other, "/v1/precheck", NEWS, key).headers["Access-Control-Allow-Origin"] == NEWS


def test_with_the_keys_unreadable_only_the_settings_origins_are_allowed(make_client):
    client = make_client(REDIS_URL="redis://127.0.0.1:1/0", CORS_ORIGINS=NEWS)
    assert _preflight(client, "/v1/precheck", NEWS).status_code == 204
    assert _preflight(client, "/v1/precheck", "https://blog.example").status_code == 403


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("HTTPS://News.Example/", ["https://news.example"]),
        ("https://news.example:443,http://localhost:3000", ["https://news.example", "http://localhost:3000"]),
        ("http://[::1]:8080", ["http://[::1]:8080"]),
    ],
)
def test_the_setting_keeps_origins_as_browsers_write_them(given, kept):
    assert Settings(CORS_ORIGINS=given).CORS_ORIGINS == kept


@pytest.mark.parametrize(
    "bad", ["*", "news.example", "https://news.example/comments", "null", "ftp://a.example"]
)
def test_the_setting_refuses_what_is_not_an_origin_naming_it(bad):
    with pytest.raises(ValueError, match=r"MODERATION_CORS_ORIGINS: .* is not a web origin"):
        Settings(CORS_ORIGINS=bad)


@pytest.mark.parametrize("field", ["PRECHECK_LIMIT_PER_IP", "PRECHECK_LIMIT_PER_SITE"])
def test_the_limits_must_be_in_the_limits_notation(field):
    with pytest.raises(ValueError, match=f"MODERATION_{field}: 'often' is not a rate limit"):
        Settings(**{field: "often"})
