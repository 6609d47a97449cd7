"""Every client mistake gets a 4xx in one JSON shape: {"error": {"code", "message", "field"?}}."""

from __future__ import annotations

import pytest


def _error(r, status: int, code: str, field: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}
    err = body["error"]
    assert err["code"] == code
    assert isinstance(err["message"], str) and len(err["message"]) > 10
    assert err.get("field") == field
    return err


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_empty_or_whitespace_text(client, text):
    _error(client.post("/v1/moderate", json={"text": text}), 422, "empty_text", "text")


def test_text_over_the_limit(make_client):
    client = make_client(MAX_CHARS=50)
    err = _error(client.post("/v1/moderate", json={"text": "a" * 51}), 422, "text_too_long", "text")
    assert "50" in err["message"] and "MODERATION_MAX_CHARS" in err["message"]
    assert client.post("/v1/moderate", json={"text": "a" * 50}).status_code == 200


def test_invalid_json(client):
    r = client.post(
        "/v1/moderate", content=b'{"text": "unterminated', headers={"content-type": "application/json"}
    )
    _error(r, 400, "invalid_json")


def test_missing_body_and_missing_field(client):
    _error(client.post("/v1/moderate", headers={"content-type": "application/json"}), 422, "missing_body")
    _error(client.post("/v1/moderate", json={"id": "x"}), 422, "missing_field", "text")


@pytest.mark.parametrize(
    "body,field",
    [
        ({"text": 42}, "text"),
        ({"text": ["a"]}, "text"),
        ({"text": "ok", "id": {"a": 1}}, "id"),
        ([1, 2], None),
    ],
)
def test_wrong_types(client, body, field):
    _error(client.post("/v1/moderate", json=body), 422, "invalid_field", field)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/moderate", content=b'{"text": "hello"}', headers=headers)
    _error(r, 415, "unsupported_media_type")


def test_charset_parameter_is_fine(client):
    r = client.post(
        "/v1/moderate",
        content=b'{"text": "hello"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200


def test_oversize_batch_and_empty_batch(make_client):
    client = make_client(MAX_BATCH=3)
    r = client.post("/v1/moderate/batch", json={"comments": [{"text": "x"}] * 4})
    err = _error(r, 422, "batch_too_large", "comments")
    assert "3" in err["message"]
    _error(client.post("/v1/moderate/batch", json={"comments": []}), 422, "empty_batch", "comments")


def test_default_batch_limit_is_100(client):
    assert client.post("/v1/moderate/batch", json={"comments": [{"text": "ok"}] * 100}).status_code == 200
    _error(
        client.post("/v1/moderate/batch", json={"comments": [{"text": "ok"}] * 101}),
        422,
        "batch_too_large",
        "comments",
    )


def test_batch_errors_name_the_comment(client):
    r = client.post("/v1/moderate/batch", json={"comments": [{"text": "fine"}, {"text": " "}]})
    _error(r, 422, "empty_text", "comments.1.text")
    r = client.post("/v1/moderate/batch", json={"comments": [{"text": "fine"}, {"txt": "typo"}]})
    _error(r, 422, "missing_field", "comments.1.text")


def test_unpaired_surrogate_is_refused_not_a_500(client):
    r = client.post(
        "/v1/moderate", content=b'{"text": "bad \\ud800 text"}', headers={"content-type": "application/json"}
    )
    _error(r, 422, "invalid_text", "text")


def test_body_too_large_for_any_valid_request(make_client):
    client = make_client(MAX_CHARS=10, MAX_BATCH=1)
    r = client.post(
        "/v1/moderate",
        content=b'{"text": "' + b"a" * 200_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    _error(r, 413, "payload_too_large")


def test_unknown_route_and_method(client):
    _error(client.get("/v1/nope"), 404, "not_found")
    _error(client.get("/v1/moderate"), 405, "method_not_allowed")


def test_openapi_documents_requests_responses_and_errors(client):
    doc = client.get("/openapi.json").json()
    op = doc["paths"]["/v1/moderate"]["post"]
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/CommentIn")
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Verdict")
    for status in ("400", "413", "415", "422"):
        assert op["responses"][status]["content"]["application/json"]["schema"]["$ref"].endswith(
            "/ErrorResponse"
        )
    verdict = doc["components"]["schemas"]["Verdict"]["properties"]
    assert {
        "id",
        "verdict",
        "reasons",
        "notice",
        "scores",
        "profanity",
        "cached",
        "policy_version",
        "model",
    } <= set(verdict)
    assert "/v1/moderate/batch" in doc["paths"] and "/readyz" in doc["paths"]
    assert client.get("/docs").status_code == 200
