"""/healthz and /readyz, including Redis going away and coming back under a running app."""

from __future__ import annotations

import json

from tests.support.redis_server import ThrowawayRedis
from tests.support.scorers import MarkerScorer


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_with_memory_cache(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["policy"]["ok"] and "2026-11-29.1" in body["checks"]["policy"]["detail"]
    assert body["checks"]["model"]["detail"] == "marker:000000000000"
    assert "memory" in body["checks"]["cache"]["detail"]


def test_readyz_says_when_running_without_model(make_client):
    from service.model.base import NoModel

    body = make_client(NoModel()).get("/readyz").json()
    assert body["status"] == "ready" and "none" in body["checks"]["model"]["detail"]


def test_verdicts_are_cached_in_redis_under_the_prefix(make_client, redis_url, key_prefix, raw_redis):
    client = make_client(MarkerScorer(), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, CACHE_TTL_S=600)
    first = client.post("/v1/moderate", json={"text": "Redis keeps this one.", "id": "r1"}).json()
    # Every key lives under the prefix; exactly one of them is a cached verdict (the others are the decision
    # log's status and counters, tested in tests/api/test_comments.py).
    assert raw_redis.keys(f"{key_prefix}*")
    keys = raw_redis.keys(f"{key_prefix}verdict:*")
    assert len(keys) == 1
    stored = json.loads(raw_redis.get(keys[0]))
    assert stored["verdict"] == first["verdict"] == "accept"
    assert 590 <= raw_redis.ttl(keys[0]) <= 600
    second = client.post("/v1/moderate", json={"text": "Redis keeps this one.", "id": "r2"}).json()
    assert second["cached"] is True and second["id"] == "r2"


def test_model_change_never_serves_a_stale_verdict(make_client, redis_url, key_prefix):
    a = make_client(MarkerScorer(model_id="m:aaaaaaaaaaaa"), REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    a.post("/v1/moderate", json={"text": "same text, new model"})
    scorer_b = MarkerScorer(model_id="m:bbbbbbbbbbbb")
    b = make_client(scorer_b, REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    body = b.post("/v1/moderate", json={"text": "same text, new model"}).json()
    assert body["cached"] is False and body["model"] == "m:bbbbbbbbbbbb"
    assert scorer_b.texts_scored == 1


def test_redis_going_away_mid_test(make_client, tmp_path):
    with ThrowawayRedis() as server:
        scorer = MarkerScorer()
        # Without the outage journal a Redis outage is not ready (with it: tests/api/test_outage_journal.py).
        client = make_client(scorer, REDIS_URL=server.url, JOURNAL=False)
        assert client.get("/readyz").json()["checks"]["redis"]["ok"] is True
        client.post("/v1/moderate", json={"text": "cached before the outage"})

        server.stop()
        r = client.post("/v1/moderate", json={"text": "cached before the outage"})
        assert r.status_code == 200
        body = r.json()
        assert body["cached"] is False and body["verdict"] == "accept"
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["redis"]["ok"] is False
        assert client.post("/v1/moderate", json={"text": "during the outage"}).status_code == 200

        server.start()
        # The store recovers by itself once its backoff has passed.
        import time

        deadline = time.monotonic() + 15
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "readyz never recovered after Redis came back"
            time.sleep(0.3)
        client.post("/v1/moderate", json={"text": "after the outage"})
        assert client.post("/v1/moderate", json={"text": "after the outage"}).json()["cached"] is True


# -- who sees the details (issue 10: /readyz showed the Redis host to anyone) -------------------------------

TOKEN = "t" * 40


def test_readyz_tells_strangers_only_ready_or_not(make_client, redis_url, key_prefix):
    from tests.support.settings import production_overrides

    client = make_client(MarkerScorer(), **production_overrides(REDIS_URL=redis_url, REDIS_PREFIX=key_prefix))
    r = client.get("/readyz")
    assert r.status_code == 200 and r.json() == {"status": "ready"}
    assert "redis" not in r.text and "127.0.0.1" not in r.text


def test_readyz_details_need_the_metrics_token(make_client, redis_url, key_prefix):
    client = make_client(MarkerScorer(), METRICS_TOKEN=TOKEN, REDIS_URL=redis_url, REDIS_PREFIX=key_prefix)
    for headers in (
        {},
        {"authorization": "Bearer wrong"},
        {"authorization": TOKEN},
        {"authorization": "Bearer é".encode()},
    ):
        r = client.get("/readyz", headers=headers)
        assert r.status_code == 200 and r.json() == {"status": "ready"}, headers
    detailed = client.get("/readyz", headers={"authorization": f"Bearer {TOKEN}"}).json()
    assert detailed["checks"]["redis"]["ok"] is True and "redis://" in detailed["checks"]["redis"]["detail"]


def test_not_ready_is_said_without_the_details(make_client):
    with ThrowawayRedis() as server:
        client = make_client(MarkerScorer(), METRICS_TOKEN=TOKEN, REDIS_URL=server.url, JOURNAL=False)
        server.stop()
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json() == {"status": "not ready"}
        detailed = client.get("/readyz", headers={"authorization": f"Bearer {TOKEN}"})
        assert detailed.status_code == 503 and detailed.json()["checks"]["redis"]["ok"] is False
