"""GET /v1/comments/{id} (the status, for its token) and POST /v1/comments/{id}/overturn, on real Redis."""

from __future__ import annotations

import pytest

from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.comments import moderate as _moderate
from tests.support.comments import status
from tests.support.redis_server import free_port
from tests.support.scorers import MarkerScorer


@pytest.fixture
def app(make_client, redis_url, key_prefix):
    return make_client(
        MarkerScorer(), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD
    )


def test_every_comment_gets_a_status_the_site_can_read(app):
    verdicts = {
        "ok": _moderate(app, "ok", "A kind word."),
        "bad": _moderate(app, "bad", "This is fucking ridiculous."),
        "maybe": _moderate(app, "maybe", "Hmm [[insult=0.6]]"),
    }
    assert [v["verdict"] for v in verdicts.values()] == ["accept", "reject", "review"]
    expected = {
        "ok": ("accepted", True, True),
        "bad": ("rejected", False, True),
        "maybe": ("pending_review", None, False),
    }
    for comment_id, (want, publish, final) in expected.items():
        body = status(app, verdicts[comment_id])
        assert (body["id"], body["status"], body["publish"], body["final"]) == (
            comment_id,
            want,
            publish,
            final,
        )
        assert "text" not in body and "decided_by" not in body  # the status only
        # The token also works as ?token= (for a site that cannot send a header).
        by_query = app.get(
            f"/v1/comments/{comment_id}", params={"token": verdicts[comment_id]["status_token"]}
        )
        assert by_query.json()["status"] == want


def test_unknown_comment_is_404_in_the_error_shape(app):
    response = app.get("/v1/comments/never-seen", headers={"X-Status-Token": "anything"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "comment_not_found"


def test_a_wrong_token_answers_exactly_as_an_unknown_id(app):
    # "Why" 2 of issue 10: ids are guessable, so the id alone must not show a comment's status.
    real = _moderate(app, "c-7001", "Hmm [[insult=0.6]]")
    other = _moderate(app, "c-7002", "A kind word.")
    wrong = app.get("/v1/comments/c-7001", headers={"X-Status-Token": other["status_token"]})
    unknown = app.get("/v1/comments/c-7003", headers={"X-Status-Token": other["status_token"]})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["error"]["code"] == unknown.json()["error"]["code"] == "comment_not_found"
    assert wrong.json()["error"]["message"].replace("7001", "7003") == unknown.json()["error"]["message"]
    # Without a token: a 422 that names the field, the same whether the id exists or not.
    for comment_id in ("c-7001", "c-7003"):
        missing = app.get(f"/v1/comments/{comment_id}")
        assert missing.status_code == 422
        assert (missing.json()["error"]["code"], missing.json()["error"]["field"]) == (
            "missing_field",
            "token",
        )
    # A token with bytes compare_digest cannot take as text is a 404 too, never a 500.
    odd = app.get("/v1/comments/c-7001", params={"token": "jalapeño\u202e"})
    assert odd.status_code == 404
    assert status(app, real)["status"] == "pending_review"


def test_a_cached_verdict_is_recorded_for_its_new_id(app, raw_redis, key_prefix):
    first = _moderate(app, "x1", "This is fucking ridiculous.")
    second = _moderate(app, "x2", "This is fucking ridiculous.")
    assert second["cached"] is True and first["cached"] is False
    assert status(app, second)["status"] == "rejected"
    logged = [fields["comment_id"] for _, fields in raw_redis.xrange(f"{key_prefix}log")]
    assert logged == ["x1", "x2"]


def test_status_survives_a_restart(make_client, redis_url, key_prefix):
    settings = {"REDIS_URL": redis_url, "REDIS_PREFIX": key_prefix, "ADMIN_PASSWORD": ADMIN_PASSWORD}
    first = make_client(MarkerScorer(), **settings)
    verdict = _moderate(first, "kept", "Hmm [[insult=0.6]]")
    first.__exit__(None, None, None)
    second = make_client(MarkerScorer(), **settings)
    assert status(second, verdict)["status"] == "pending_review"


def test_overturn_reverses_a_rejection_and_an_acceptance(app):
    _moderate(app, "bad", "This is fucking ridiculous.")
    ok = _moderate(app, "ok", "A kind word.")
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
    assert status(app, ok)["status"] == "rejected_by_moderator"

    pending = app.post("/v1/comments/maybe/overturn", json={}, headers=headers)
    assert pending.status_code == 409 and pending.json()["error"]["code"] == "pending_review"
    assert app.post("/v1/comments/nope/overturn", json={}, headers=headers).status_code == 404

    log = app.get("/v1/review/log", params={"kind": "moderator"}).json()["entries"]
    assert [(e["comment_id"], e["overturn"], e["previous_status"], e["status"]) for e in log] == [
        ("ok", True, "accepted", "rejected_by_moderator"),
        ("bad", True, "rejected", "approved"),
    ]


def test_overturn_needs_a_login_and_the_csrf_header(app):
    bad = _moderate(app, "bad", "This is fucking ridiculous.")
    anonymous = app.post("/v1/comments/bad/overturn", json={})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "unauthorized"
    login(app)
    no_token = app.post("/v1/comments/bad/overturn", json={})
    assert no_token.status_code == 403 and no_token.json()["error"]["code"] == "csrf_failed"
    wrong = app.post("/v1/comments/bad/overturn", json={}, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert status(app, bad)["status"] == "rejected"


def test_redis_down_moderation_answers_status_is_503(make_client):
    client = make_client(
        MarkerScorer(), REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", ADMIN_PASSWORD=ADMIN_PASSWORD
    )
    verdict = _moderate(client, "d1", "This is fucking ridiculous.")
    assert verdict["verdict"] == "reject"
    # Not recorded yet: journaled (issue 12), its token valid once replayed (tests/api/test_outage_journal.py).
    assert verdict["status_token"]
    response = client.get("/v1/comments/d1", headers={"X-Status-Token": "any"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "store_unavailable"
    # The login counts its attempts and keeps its sessions in the store: with Redis down it answers 503 too.
    refused = client.post("/v1/session", json={"user": "admin", "password": ADMIN_PASSWORD})
    assert refused.status_code == 503 and refused.json()["error"]["code"] == "store_unavailable"


def test_without_redis_the_status_lives_in_process(make_client):
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)  # REDIS_URL unset: memory store
    verdict = _moderate(client, "m1", "Hmm [[insult=0.6]]")
    assert status(client, verdict)["status"] == "pending_review"
    headers = login(client)
    assert client.post("/v1/review/m1", json={"decision": "reject"}, headers=headers).json()["status"] == (
        "rejected_by_moderator"
    )


# -- a status belongs to its first writer (issue 10, "Why" 2) ------------------------------------------------


def test_an_anonymous_repost_cannot_undo_a_moderators_reject(app):
    held = _moderate(app, "c-7001", "Hmm [[insult=0.6]]")
    headers = login(app)
    assert app.post("/v1/review/c-7001", json={"decision": "reject"}, headers=headers).status_code == 200
    app.cookies.clear()  # what follows is anyone on the internet

    repost = app.post("/v1/moderate", json={"id": "c-7001", "text": "What a thoughtful article."})
    assert repost.status_code == 409
    assert (repost.json()["error"]["code"], repost.json()["error"]["field"]) == ("id_conflict", "id")
    body = status(app, held)
    assert (body["status"], body["publish"]) == ("rejected_by_moderator", False)


def test_a_clients_retry_gets_the_first_verdict_and_leaves_an_overturn_alone(app):
    first = _moderate(app, "c-8", "This is fucking ridiculous.")
    headers = login(app)
    assert app.post("/v1/comments/c-8/overturn", json={}, headers=headers).json()["status"] == "approved"
    app.cookies.clear()
    retry = _moderate(app, "c-8", "This is fucking ridiculous.")
    assert retry == first  # idempotent: the verdict recorded first, its token included
    assert status(app, first)["status"] == "approved"


def test_a_batch_names_the_comment_whose_id_is_taken(app):
    _moderate(app, "taken", "A kind word.")
    response = app.post(
        "/v1/moderate/batch",
        json={
            "comments": [
                {"id": "fresh", "text": "Another kind word."},
                {"id": "taken", "text": "Other text."},
            ]
        },
    )
    assert response.status_code == 409
    assert (response.json()["error"]["code"], response.json()["error"]["field"]) == (
        "id_conflict",
        "comments.1.id",
    )
    # The comment before it was recorded: a retry of the batch without the conflict gets its verdict again.
    retry = app.post("/v1/moderate/batch", json={"comments": [{"id": "fresh", "text": "Another kind word."}]})
    assert retry.status_code == 200 and retry.json()["results"][0]["status_token"]


def test_one_id_twice_in_a_batch_is_one_comment_or_a_conflict(app):
    same = app.post(
        "/v1/moderate/batch",
        json={"comments": [{"id": "twice", "text": "Hello."}, {"id": "twice", "text": "Hello."}]},
    )
    assert same.status_code == 200
    first, second = same.json()["results"]
    assert first["status_token"] == second["status_token"]
    other = app.post(
        "/v1/moderate/batch",
        json={"comments": [{"id": "pair", "text": "Hello."}, {"id": "pair", "text": "Bye."}]},
    )
    assert other.status_code == 409 and other.json()["error"]["field"] == "comments.1.id"


def test_without_redis_the_first_writer_owns_the_status_too(make_client):
    client = make_client(MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD)  # the memory store
    verdict = _moderate(client, "m2", "Hmm [[insult=0.6]]")
    assert client.post("/v1/moderate", json={"id": "m2", "text": "Lovely."}).status_code == 409
    assert _moderate(client, "m2", "Hmm [[insult=0.6]]") == verdict
    assert status(client, verdict)["status"] == "pending_review"
