"""Backpressure at the API: a full model queue answers 503 "overloaded" with Retry-After, not a verdict."""

from __future__ import annotations

import threading
import time

from tests.support.scorers import FailingScorer, GatedScorer


def _wait_for(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_full_queue_answers_503_with_retry_after(make_client):
    scorer = GatedScorer()
    client = make_client(scorer, QUEUE_MAX=1, BATCH_MAX_SIZE=1, BATCH_MAX_WAIT_MS=0, RETRY_AFTER_S=3)
    batcher = client.app.state.pipeline.batcher
    answers: dict[str, int] = {}

    def post(name: str) -> None:
        answers[name] = client.post("/v1/moderate", json={"text": f"comment {name}"}).status_code

    running = threading.Thread(target=post, args=("running",))
    running.start()
    assert scorer.entered.wait(10)  # the model is busy with the first comment
    queued = threading.Thread(target=post, args=("queued",))
    queued.start()
    _wait_for(lambda: batcher.waiting == 1)  # the second waits; the queue (1) is full

    refused = client.post("/v1/moderate", json={"text": "one too many"})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "3"
    error = refused.json()["error"]
    assert error["code"] == "overloaded" and "retry in 3 s" in error["message"]

    scorer.release.set()
    running.join(10)
    queued.join(10)
    assert answers == {"running": 200, "queued": 200}
    assert all("one too many" not in t for call in scorer.calls for t in call)
    assert "moderation_overloaded_total 1.0" in client.get("/metrics").text


def test_a_failed_batch_still_gives_the_safe_verdict(make_client):
    client = make_client(FailingScorer())
    body = client.post("/v1/moderate", json={"text": "A perfectly nice comment."}).json()
    assert body["verdict"] == "review" and body["model_consulted"] is False
    assert [r["code"] for r in body["reasons"]] == ["model_unavailable"]
    assert 'moderation_inference_seconds_count{outcome="error"} 1.0' in client.get("/metrics").text
