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
