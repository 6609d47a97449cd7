"""GET /metrics: Prometheus exposition of the queue, batches, inference time, verdicts and cache hits."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

from tests.support.scorers import MarkerScorer


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_verdicts_cache_hits_and_batches(make_client):
    client = make_client(MarkerScorer())
    for text in ("A kind word.", "Another kind word.", "A kind word.", "meh [[insult=0.55]]"):
        assert client.post("/v1/moderate", json={"text": text}).status_code == 200
    r = client.post("/v1/moderate/batch", json={"comments": [{"text": "one more"}, {"text": "and two"}]})
    assert r.status_code == 200

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples[("moderation_verdicts_total", (("verdict", "accept"),))] == 5
    assert samples[("moderation_verdicts_total", (("verdict", "review"),))] == 1
    assert samples[("moderation_cache_hits_total", ())] == 1
    assert samples[("moderation_queue_depth", ())] == 0
    # Five comments reached the model (the repeat was a cache hit), in four model calls.
    assert samples[("moderation_batch_size_sum", ())] == 5
    assert samples[("moderation_batch_size_count", ())] == 4
    assert samples[("moderation_inference_seconds_count", (("outcome", "ok"),))] == 4
    assert samples[("moderation_overloaded_total", ())] == 0


def test_every_app_has_its_own_registry(make_client):
    first, second = make_client(MarkerScorer()), make_client(MarkerScorer())
    first.post("/v1/moderate", json={"text": "only the first app sees this"})
    assert re.search(
        r'^moderation_verdicts_total\{verdict="accept"\} 1\.0$', first.get("/metrics").text, re.M
    )
    assert re.search(
        r'^moderation_verdicts_total\{verdict="accept"\} 0\.0$', second.get("/metrics").text, re.M
    )


# -- who may scrape (issue 10) ------------------------------------------------------------------------------

TOKEN = "m" * 40


def test_metrics_need_the_token_when_one_is_set(make_client):
    client = make_client(MarkerScorer(), METRICS_TOKEN=TOKEN)
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": f"Basic {TOKEN}"}):
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", headers
        assert r.headers["www-authenticate"] == "Bearer"
    # Bytes that are not ASCII are compared as bytes, never a 500.
    r = client.get("/metrics", headers={"authorization": b"Bearer " + "é…".encode()})
    assert r.status_code == 401
    ok = client.get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and "moderation_queue_depth" in ok.text


def test_production_without_a_token_keeps_metrics_closed(make_client):
    from tests.support.settings import production_overrides

    client = make_client(MarkerScorer(), **production_overrides())
    r = client.get("/metrics", headers={"authorization": "Bearer anything"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "metrics_closed"
    assert "MODERATION_METRICS_TOKEN" in r.json()["error"]["message"]
    assert "moderation_" not in r.text
