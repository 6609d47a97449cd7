"""The decision webhook: signed over the raw body, retried with backoff, against a local receiver."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.review.webhook import (
    SIGNATURE_HEADER,
    WebhookConfigError,
    WebhookSender,
    sign,
    verify,
)
from service.runtime import webhook_sender
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.receiver import Receiver
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(failures=2)
    yield r
    r.close()


def test_signature_is_hmac_sha256_of_the_raw_body():
    body = b'{"a":1}'
    # Fixed vector, so a change of algorithm or encoding cannot pass unnoticed.
    assert sign("k", body) == "sha256=c3a92ff9e274cdcce27a58c15a78ec6dcbbdbd0038a87e7a11baef2028fd8bff"
    assert verify("k", body, sign("k", body))
    assert not verify("k", body + b" ", sign("k", body))
    assert not verify("other", body, sign("k", body))
    assert not verify("k", body, None)


def test_decision_is_delivered_signed_after_retries(make_client, redis_url, key_prefix, receiver):
    client = make_client(
        MarkerScorer(),
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        WEBHOOK_URL=receiver.url,
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_BACKOFF_S=0.05,
        WEBHOOK_MAX_ATTEMPTS=4,
    )
    client.post("/v1/moderate", json={"text": "Borderline [[insult=0.6]]", "id": "w1", "article_id": "a-1"})
    headers = login(client)
    assert client.post("/v1/review/w1", json={"decision": "approve"}, headers=headers).status_code == 200

    receiver.wait_for(3)  # two failures, then the delivery
    assert [status for _, _, status in receiver.requests] == [500, 500, 204]
    delivered_headers, raw, _ = receiver.requests[-1]
    assert verify(SECRET, raw, delivered_headers[SIGNATURE_HEADER.lower()])
    payload = json.loads(raw)
    assert {
        k: payload[k]
        for k in (
            "event",
            "comment_id",
            "article_id",
            "status",
            "publish",
            "previous_status",
            "overturn",
            "decided_by",
        )
    } == {
        "event": "comment.decided",
        "comment_id": "w1",
        "article_id": "a-1",
        "status": "approved",
        "publish": True,
        "previous_status": "pending_review",
        "overturn": False,
        "decided_by": "admin",
    }
    # Every attempt is the same delivery, byte for byte.
    assert len({raw for _, raw, _ in receiver.requests}) == 1
    assert len({h["x-moderation-delivery"] for h, _, _ in receiver.requests}) == 1


def test_overturn_is_delivered_too(make_client, receiver):
    receiver.failures = 0
    client = make_client(
        MarkerScorer(), ADMIN_PASSWORD=ADMIN_PASSWORD, WEBHOOK_URL=receiver.url, WEBHOOK_SECRET=SECRET
    )
    client.post("/v1/moderate", json={"text": "This is fucking ridiculous.", "id": "w2"})
    client.post("/v1/comments/w2/overturn", json={}, headers=login(client))
    receiver.wait_for(1)
    payload = json.loads(receiver.requests[0][1])
    assert (payload["status"], payload["overturn"], payload["previous_status"]) == (
        "approved",
        True,
        "rejected",
    )


async def _deliver(sender: WebhookSender) -> bool:
    try:
        return await sender.send({"delivery_id": "d1", "status": "approved"})
    finally:
        await sender.aclose()


def test_attempts_are_bounded_and_back_off_exponentially():
    r = Receiver(failures=100, fail_status=503)
    delays: list[float] = []

    async def fake_sleep(s: float) -> None:
        delays.append(s)

    try:
        sender = WebhookSender(
            r.url, SECRET, max_attempts=5, backoff_s=1.0, backoff_max_s=3.0, sleep=fake_sleep
        )
        assert asyncio.run(_deliver(sender)) is False
        assert len(r.requests) == 5 and delays == [1.0, 2.0, 3.0, 3.0]
    finally:
        r.close()


def test_a_client_error_is_not_retried():
    r = Receiver(failures=100, fail_status=400)
    try:
        sender = WebhookSender(r.url, SECRET, max_attempts=5, backoff_s=0.01)
        assert asyncio.run(_deliver(sender)) is False
        assert len(r.requests) == 1
    finally:
        r.close()


def test_a_webhook_url_needs_a_secret():
    with pytest.raises(WebhookConfigError, match="WEBHOOK_SECRET"):
        webhook_sender(make_settings(WEBHOOK_URL="http://127.0.0.1:9/hook"))
    assert webhook_sender(make_settings()) is None


STRONG_SECRET = "n4Vb8-Kq2sXw9Lm3Rt7Yc1Hd6Jf5Gp0Za_Ue-Oi"


@pytest.mark.parametrize(
    ("url", "secret", "says"),
    [
        ("http://hooks.example.org/moderation", STRONG_SECRET, "only https:// is accepted"),
        ("HTTP://hooks.example.org/moderation", STRONG_SECRET, "only https:// is accepted"),
        ("https://hooks.example.org/moderation", "s", "1 bytes long; at least 32"),
        ("https://hooks.example.org/moderation", "webhook-secret-for-tests", "24 bytes long"),
        ("https://hooks.example.org/moderation", "a" * 40, "guessable"),
        ("https:///no-host", STRONG_SECRET, "with a host"),
        ("https://[::1/hook", STRONG_SECRET, "with a host"),
    ],
)
def test_production_refuses_plain_http_and_short_or_guessable_secrets(url, secret, says):
    settings = make_settings(ENVIRONMENT="production", WEBHOOK_URL=url, WEBHOOK_SECRET=secret)
    with pytest.raises(WebhookConfigError, match="MODERATION_WEBHOOK") as raised:
        webhook_sender(settings)
    assert says in str(raised.value)


def test_production_masks_credentials_in_a_refused_url():
    settings = make_settings(
        ENVIRONMENT="production", WEBHOOK_URL="ftp://user:hunter2@example.org/", WEBHOOK_SECRET=STRONG_SECRET
    )
    with pytest.raises(WebhookConfigError) as raised:
        webhook_sender(settings)
    assert "hunter2" not in str(raised.value)


@pytest.mark.anyio
async def test_https_and_a_strong_secret_are_accepted_and_development_takes_a_local_receiver():
    production = webhook_sender(
        make_settings(
            ENVIRONMENT="production", WEBHOOK_URL="HTTPS://hooks.example.org/m", WEBHOOK_SECRET=STRONG_SECRET
        )
    )
    development = webhook_sender(make_settings(WEBHOOK_URL="http://127.0.0.1:9/hook", WEBHOOK_SECRET=SECRET))
    try:
        assert production is not None and production.url == "HTTPS://hooks.example.org/m"
        assert development is not None  # a receiver on the developer's machine, short secret warned about
    finally:
        for sender in (production, development):
            if sender is not None:
                await sender.aclose()


def test_a_delivery_in_flight_when_the_service_stops_is_delivered_after_a_restart(redis_url, key_prefix):
    """Regression (issue 12): deliveries in flight lived in process memory, and a restart dropped them."""
    receiver = Receiver(failures=1)
    settings = make_settings(
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        WEBHOOK_URL=receiver.url,
        WEBHOOK_SECRET=SECRET,
        WEBHOOK_BACKOFF_S=30.0,  # the retry is still waiting when the service stops
        WEBHOOK_TIMEOUT_S=0.3,
        WEBHOOK_CLAIM_IDLE_S=0.5,
        WEBHOOK_POLL_S=0.1,
    )
    try:
        with TestClient(create_app(settings, scorer=MarkerScorer())) as before:
            before.post("/v1/moderate", json={"text": "Borderline [[insult=0.6]]", "id": "r1"})
            response = before.post("/v1/review/r1", json={"decision": "approve"}, headers=login(before))
            assert response.status_code == 200
            receiver.wait_for(1)
        assert receiver.statuses == [500]

        with TestClient(create_app(settings, scorer=MarkerScorer())):
            receiver.wait_for(2, timeout_s=10)
            time.sleep(0.6)  # a second delivery would have come by now
        assert receiver.statuses == [500, 204]
        first, second = receiver.payloads()
        assert first == second and first["comment_id"] == "r1"
        assert len(set(receiver.delivered())) == 1
    finally:
        receiver.close()
