"""GET /v1/comments/{id} (public status) and POST /v1/comments/{id}/overturn, on real Redis."""

from __future__ import annotations

import pytest

from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.redis_server import free_port
from tests.support.scorers import MarkerScorer


@pytest.fixture
def app(make_client, redis_url, key_prefix):
    return make_client(
        MarkerScorer(), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD
    )


def _moderate(client, comment_id, text, **extra):
    response = client.post("/v1/moderate", json={"text": text, "id": comment_id, **extra})
    assert response.status_code == 200
    return response.json()


def test_every_comment_gets_a_status_the_site_can_read(app):
    assert _moderate(app, "ok", "A kind word.")["verdict"] == "accept"
    assert _moderate(app, "bad", "This is fucking ridiculous.")["verdict"] == "reject"
    assert _moderate(app, "maybe", "Hmm [[insult=0.6]]")["verdict"] == "review"
    expected = {
        "ok": ("accepted", True, True),
        "bad": ("rejected", False, True),
        "maybe": ("pending_review", None, False),
    }
    for comment_id, (status, publish, final) in expected.items():
        body = app.get(f"/v1/comments/{comment_id}").json()
        assert (body["id"], body["status"], body["publish"], body["final"]) == (
            comment_id,
            status,
            publish,
            final,
        )
        assert "text" not in body and "decided_by" not in body  # public: the status only


def test_unknown_comment_is_404_in_the_error_shape(app):
    response = app.get("/v1/comments/never-seen")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"


def test_a_cached_verdict_is_recorded_for_its_new_id(app, raw_redis, key_prefix):
    first = _moderate(app, "x1", "This is fucking ridiculous.")
    second = _moderate(app, "x2", "This is fucking ridiculous.")
    assert second["cached"] is True and first["cached"] is False
    assert app.get("/v1/comments/x2").json()["status"] == "rejected"
    logged = [fields["comment_id"] for _, fields in raw_redis.xrange(f"{key_prefix}log")]
    assert logged == ["x1", "x2"]


def test_status_survives_a_restart(make_client, redis_url, key_prefix):
    settings = {"REDIS_URL": redis_url, "REDIS_PREFIX": key_prefix, "ADMIN_PASSWORD": ADMIN_PASSWORD}
    first = make_client(MarkerScorer(), **settings)
    _moderate(first, "kept", "Hmm [[insult=0.6]]")
    first.__exit__(None, None, None)
    second = make_client(MarkerScorer(), **settings)
    assert second.get("/v1/comments/kept").json()["status"] == "pending_review"


def test_overturn_reverses_a_rejection_and_an_acceptance(app):
    _moderate(app, "bad", "This is fucking ridiculous.")
    _moderate(app, "ok", "A kind word.")
    _moderate(app, "maybe", "Hmm [[insult=0.6]]")
    headers = login(app)
    body = app.post("/v1/comments/bad/overturn", json={"note": "quoting the article"}, headers=headers).json()
    assert (body["status"], body["publish"], body["decided_by"], body["note"]) == (
        "approved",
        True,
        "admin",
        "quoting the article",
    )
    body = app.post("/v1/comments/ok/overturn", json={}, headers=headers).json()
    assert (body["status"], body["publish"], body["verdict"]) == ("rejected_by_moderator", False, "accept")
    assert app.get("/v1/comments/ok").json()["status"] == "rejected_by_moderator"

    pending = app.post("/v1/comments/maybe/overturn", json={}, headers=headers)
    assert pending.status_code == 409 and pending.json()["error"]["code"] == "pending_review"
    assert app.post("/v1/comments/nope/overturn", json={}, headers=headers).status_code == 404

    log = app.get("/v1/review/log", params={"kind": "moderator"}).json()["entries"]
    assert [(e["comment_id"], e["overturn"], e["previous_status"], e["status"]) for e in log] == [
        ("ok", True, "accepted", "rejected_by_moderator"),
        ("bad", True, "rejected", "approved"),
    ]


def test_overturn_needs_a_login_and_the_csrf_header(app):
    _moderate(app, "bad", "This is fucking ridiculous.")
    anonymous = app.post("/v1/comments/bad/overturn", json={})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    login(app)
    no_token = app.post("/v1/comments/bad/overturn", json={})
    assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "csrf_failed"
    wrong = app.post("/v1/comments/bad/overturn", json={}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert app.get("/v1/comments/bad").json()["status"] == "rejected"


def test_redis_down_moderation_answers_status_is_503(make_client):
    client = make_client(
        MarkerScorer(), REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", ADMIN_PASSWORD=ADMIN_PASSWORD
    )
    assert _moderate(client, "d1", "This is fucking ridiculous.")["verdict"] == "reject"
    response = client.get("/v1/comments/d1")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    # The login counts its attempts and keeps its sessions in the store: with Redis down it answers 503 too.
    refused = client.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable"


def test_without_redis_the_status_lives_in_process(make_client):
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)  # REDIS_URL unset: memory store
    _moderate(client, "m1", "Hmm [[insult=0.6]]")
    assert client.get("/v1/comments/m1").json()["status"] == "pending_review"
    headers = login(client)
    assert client.post("/v1/review/m1", json={"decision": "reject"}, headers=headers).json()["status"] == (
        "rejected_by_moderator"
    )
