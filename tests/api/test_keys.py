"""API keys at our own door, POST /v1/moderate (X-API-Key), through the real app: optional in development,
required with MODERATION_REQUIRE_API_KEY and in production, a revoked key refused at once, on each storage;
and the key's site recorded with the decision and filterable in the review API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.cli import main
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.keys import issue_key, revoke_key
from tests.support.redis_server import ThrowawayRedis
from tests.support.scorers import MarkerScorer
from tests.support.settings import production_overrides

OBSCENE = "What a fucking mess."
FOREIGN_KEYS = ["AIzaSyA-a-perspective-key-0123456789", "sk-proj-an-openai-key", "unused"]


def _moderate(client: TestClient, key: str | None, text: str = OBSCENE, **extra: Any) -> Any:
    headers = {"X-API-Key": key} if key is not None else {}
    return client.post("/v1/moderate", json={"text": text, **extra}, headers=headers)


def _refused(response: Any, code: str) -> None:
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, "X-API-Key")
    assert "X-API-Key" in error["message"]


def _unknown_key_of_our_form(key: str) -> str:
    prefix, _, secret = key.split("_")
    return f"{prefix}_{'0' * 12}_{secret}"


# -- keys optional (development's default: embedded runs) ----------------------------------------------------


def test_optional_keys_anonymous_and_foreign_keys_are_scored_a_key_of_ours_is_checked(make_client):
    client = make_client(MarkerScorer())
    assert _moderate(client, None).status_code == 200
    assert _moderate(client, "").status_code == 200
    for foreign in FOREIGN_KEYS:
        # What a client still sends after switching its URL to us (Perspective's ?key=, the OpenAI SDK's
        # required api_key): not ours, so anonymous where keys are optional.
        assert _moderate(client, foreign).status_code == 200, foreign
    key = issue_key(client, "example.org")
    assert _moderate(client, key).status_code == 200
    # A key of ours that is wrong is refused even here: the client means to be known as a site.
    _refused(_moderate(client, _unknown_key_of_our_form(key)), "invalid_api_key")
    _refused(_moderate(client, key[:-1] + ("A" if key[-1] != "A" else "B")), "invalid_api_key")


def test_a_revoked_key_is_refused_from_its_next_request(make_client):
    client = make_client(MarkerScorer())
    key = issue_key(client, "example.org")
    assert _moderate(client, key).status_code == 200
    revoke_key(client, key)
    _refused(_moderate(client, key), "invalid_api_key")
    batch = client.post("/v1/moderate/batch", json={"comments": [{"text": "hi"}]}, headers={"X-API-Key": key})
    _refused(batch, "invalid_api_key")


# -- keys required ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [{"REQUIRE_API_KEY": True}, production_overrides()],
    ids=["MODERATION_REQUIRE_API_KEY", "production-default"],
)
def test_required_keys_refuse_missing_foreign_unknown_and_revoked_keys(make_client, overrides):
    client = make_client(MarkerScorer(), **overrides)
    _refused(_moderate(client, None), "missing_api_key")
    _refused(_moderate(client, "   "), "missing_api_key")
    for foreign in FOREIGN_KEYS:
        _refused(_moderate(client, foreign), "invalid_api_key")
    key = issue_key(client, "example.org")
    _refused(_moderate(client, _unknown_key_of_our_form(key)), "invalid_api_key")
    ok = _moderate(client, key)
    assert ok.status_code == 200 and ok.json()["verdict"] == "reject"
    batch = client.post(
        "/v1/moderate/batch", json={"comments": [{"text": "a"}, {"text": "b"}]}, headers={"X-API-Key": key}
    )
    assert batch.status_code == 200 and len(batch.json()["results"]) == 2
    _refused(client.post("/v1/moderate/batch", json={"comments": [{"text": "a"}]}), "missing_api_key")
    revoke_key(client, key)
    _refused(_moderate(client, key), "invalid_api_key")


def test_production_can_turn_keys_off_and_development_on(make_client):
    assert (
        _moderate(
            make_client(MarkerScorer(), **production_overrides(REQUIRE_API_KEY=False)), None
        ).status_code
        == 200
    )
    _refused(_moderate(make_client(MarkerScorer(), REQUIRE_API_KEY=True), None), "missing_api_key")


def test_the_key_is_checked_before_the_body(make_client):
    client = make_client(MarkerScorer(), REQUIRE_API_KEY=True)
    # Without a key nothing about the request is answered, not even what is wrong with its body.
    _refused(client.post("/v1/moderate", json={"no": "text"}), "missing_api_key")
    _refused(client.post("/v1/moderate", json={"text": " "}), "missing_api_key")


def test_odd_key_headers_are_refused_cleanly_never_a_500(make_client):
    client = make_client(MarkerScorer(), REQUIRE_API_KEY=True)
    for raw in ("é".encode("latin-1"), b"mod_" + "é".encode() * 30, b"\x7f" * 60, b"x" * 8000):
        r = client.post("/v1/moderate", json={"text": "hi"}, headers={"X-API-Key": raw})
        assert r.status_code == 401, (raw, r.text)


# -- on each storage, across processes ---------------------------------------------------------------------


def test_keys_in_redis_hold_across_service_processes(make_client, redis_url, key_prefix):
    # Two apps on one Redis stand for two workers or instances: a key made by one works on the other, and a
    # revocation on one holds on the other at its next request.
    settings = {"REDIS_URL": redis_url, "REDIS_PREFIX": key_prefix, "REQUIRE_API_KEY": True}
    one, two = make_client(MarkerScorer(), **settings), make_client(MarkerScorer(), **settings)
    key = issue_key(one, "example.org")
    assert _moderate(two, key).status_code == 200
    revoke_key(one, key)
    _refused(_moderate(two, key), "invalid_api_key")


def test_keys_in_a_file_made_and_revoked_by_the_command(make_client, tmp_path: Path, monkeypatch, capsys):
    keys_file = tmp_path / "keys.json"
    monkeypatch.setenv("MODERATION_KEYS_FILE", str(keys_file))
    # The service starts before any key exists: a missing file holds none.
    client = make_client(MarkerScorer(), REQUIRE_API_KEY=True, KEYS_FILE=keys_file)
    assert main(["keys", "create", "example.org"]) == 0
    key = capsys.readouterr().out.strip()
    assert _moderate(client, key).status_code == 200
    assert main(["keys", "revoke", key.split("_")[1]]) == 0
    _refused(_moderate(client, key), "invalid_api_key")


def test_keys_that_cannot_be_read_fail_closed_only_where_they_are_required(make_client):
    with ThrowawayRedis() as server:
        required = make_client(MarkerScorer(), REDIS_URL=server.url, REQUIRE_API_KEY=True)
        optional = make_client(MarkerScorer(), REDIS_URL=server.url)
        key = issue_key(required, "example.org")
        assert _moderate(optional, key).status_code == 200
        server.stop()
        r = _moderate(required, key)
        assert r.status_code == 503 and r.json()["error"]["code"] == "store_unavailable"
        assert "Retry-After" in r.headers
        # Where keys are optional, scoring does not wait for them: the request is scored anonymously.
        assert _moderate(optional, key).status_code == 200


def test_the_openapi_document_declares_the_key_and_its_refusal(client):
    doc = client.get("/openapi.json").json()
    for path in ("/v1/moderate", "/v1/moderate/batch"):
        operation = doc["paths"][path]["post"]
        assert "401" in operation["responses"]
        assert any(p["in"] == "header" and p["name"] == "X-API-Key" for p in operation["parameters"])


# -- the site is recorded with each decision and filterable --------------------------------------------------


@pytest.fixture
def redis_app(make_client, redis_url, key_prefix) -> TestClient:
    return make_client(
        MarkerScorer(), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD
    )


def test_the_site_is_kept_in_the_log_and_the_status_and_filters_the_log(redis_app, raw_redis, key_prefix):
    news, blog = issue_key(redis_app, "news.example"), issue_key(redis_app, "blog.example")
    assert _moderate(redis_app, news, id="n1").status_code == 200
    assert _moderate(redis_app, blog, id="b1").status_code == 200
    assert _moderate(redis_app, None, id="a1").status_code == 200
    assert _moderate(redis_app, news, text="Fine words.", id="n2").status_code == 200
    headers = login(redis_app)

    entries = redis_app.get("/v1/review/log").json()["entries"]
    assert [(e["comment_id"], e["site"]) for e in entries] == [
        ("a1", None),
        ("b1", "blog.example"),
        ("n1", "news.example"),
    ]
    for site, ids in (("news.example", ["n1"]), ("blog.example", ["b1"]), ("nobody.example", [])):
        page = redis_app.get("/v1/review/log", params={"site": site}).json()
        assert [e["comment_id"] for e in page["entries"]] == ids, site

    # The status keeps the site too (accepted comments are not logged, but their status says whose they are).
    assert raw_redis.hget(f"{key_prefix}comment:n2", "site") == "news.example"
    assert raw_redis.hget(f"{key_prefix}comment:a1", "site") is None
    # A moderator's decision on it is logged under the same site, and the answer says whose comment it was.
    overturned = redis_app.post("/v1/comments/n1/overturn", headers=headers)
    assert overturned.status_code == 200 and overturned.json()["site"] == "news.example"
    moderator = redis_app.get("/v1/review/log", params={"kind": "moderator", "site": "news.example"}).json()
    assert [e["comment_id"] for e in moderator["entries"]] == ["n1"]


def test_a_batch_records_the_keys_site_on_every_comment(redis_app):
    key = issue_key(redis_app, "news.example")
    comments = [{"text": OBSCENE, "id": f"bb{i}"} for i in range(3)]
    assert (
        redis_app.post(
            "/v1/moderate/batch", json={"comments": comments}, headers={"X-API-Key": key}
        ).status_code
        == 200
    )
    login(redis_app)
    page = redis_app.get("/v1/review/log", params={"site": "news.example"}).json()
    assert sorted(e["comment_id"] for e in page["entries"]) == ["bb0", "bb1", "bb2"]


def test_a_client_cannot_name_its_own_site(redis_app):
    # Only a key says which site a comment is from: a "site" in the body is not read.
    key = issue_key(redis_app, "news.example")
    assert _moderate(redis_app, None, id="s1", site="news.example").status_code == 200
    assert _moderate(redis_app, key, id="s2", site="blog.example").status_code == 200
    login(redis_app)
    entries = redis_app.get("/v1/review/log").json()["entries"]
    assert [(e["comment_id"], e["site"]) for e in entries] == [("s2", "news.example"), ("s1", None)]
