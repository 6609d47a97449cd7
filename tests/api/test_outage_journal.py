"""Issue 12, item 1: decisions made while Redis is down are journaled on disk and replayed when it is back.

A real app over a real, throwaway redis-server that the tests kill (SIGKILL) and start again (empty: it keeps
nothing), real HTTP through the ASGI app. Before the journal, every status written during an outage was 404
afterwards and its review never reached the queue.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from service.runtime import StartupError
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.comments import moderate, status
from tests.support.redis_server import ThrowawayRedis
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

TEXTS = {
    "accept": "A kind word about the article.",
    "review": "Borderline, this one [[insult=0.6]]",
    "reject": "Plainly abusive [[insult=0.95]]",
}
STATUS_OF = {"accept": "accepted", "review": "pending_review", "reject": "rejected"}


def _settings(url: str, **extra: Any) -> dict[str, Any]:
    return {"REDIS_URL": url, "ADMIN_PASSWORD": ADMIN_PASSWORD, "JOURNAL_RETRY_MS": 100, **extra}


def _send_outage_traffic(client: TestClient, count: int) -> dict[str, dict[str, Any]]:
    """`count` comments (accepts, reviews and rejects in turn); their verdicts by id, each with a token."""
    verdicts = {}
    kinds = list(TEXTS)
    for i in range(count):
        kind = kinds[i % 3]
        verdict = moderate(client, f"out-{i}", f"{TEXTS[kind]} #{i}")
        assert verdict["verdict"] == kind and verdict["status_token"], verdict
        verdicts[verdict["id"]] = verdict
    return verdicts


def _journal_check(client: TestClient) -> dict[str, Any]:
    ready = client.get("/readyz")
    check: dict[str, Any] = ready.json()["checks"]["journal"]
    check["status_code"] = ready.status_code
    return check


def _wait_drained(client: TestClient, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not _journal_check(client)["detail"].startswith("empty"):
        assert time.monotonic() < deadline, f"the journal never drained: {_journal_check(client)}"
        time.sleep(0.05)


def _assert_all_recorded_once(client: TestClient, verdicts: dict[str, dict[str, Any]]) -> None:
    """Every status readable with the token its verdict carried; reviews in the queue, each log entry once."""
    for comment_id, verdict in verdicts.items():
        assert status(client, verdict)["status"] == STATUS_OF[verdict["verdict"]], comment_id
    headers = login(client)
    queue = client.get("/v1/review", params={"limit": 200}, headers=headers).json()
    queued = [item["comment_id"] for item in queue["items"]]
    expected_reviews = [i for i, v in verdicts.items() if v["verdict"] == "review"]
    assert sorted(queued) == sorted(expected_reviews)
    assert queue["pending"] == len(expected_reviews)
    log = client.get("/v1/review/log", params={"limit": 500}, headers=headers).json()["entries"]
    logged = Counter(entry["comment_id"] for entry in log)
    # Accepts are counted, not logged; every review and reject exactly once.
    assert logged == Counter(i for i, v in verdicts.items() if v["verdict"] != "accept")


def test_statuses_answered_during_an_outage_exist_afterwards(
    make_client: Callable[..., TestClient],
) -> None:
    with ThrowawayRedis() as server:
        client = make_client(MarkerScorer(), **_settings(server.url))
        server.stop()
        verdicts = _send_outage_traffic(client, 12)

        check = _journal_check(client)
        assert check["status_code"] == 200  # the service answers; the journal takes the records
        assert check["ok"] and check["detail"].startswith("12 record(s)")
        redis_check = client.get("/readyz").json()["checks"]["redis"]
        assert redis_check["ok"] is False and "local journal" in redis_check["detail"]
        metrics = client.get("/metrics").text
        assert "moderation_journal_records 12.0" in metrics
        assert "moderation_journal_dropped_total 0.0" in metrics

        server.start()
        _wait_drained(client)
        _assert_all_recorded_once(client, verdicts)
        assert "moderation_journal_replayed_total 12.0" in client.get("/metrics").text


def test_a_restart_during_the_outage_loses_nothing(make_client: Callable[..., TestClient]) -> None:
    with ThrowawayRedis() as server:
        server.stop()
        settings = make_settings(**_settings(server.url))
        with TestClient(create_app(settings, scorer=MarkerScorer())) as before:
            verdicts = _send_outage_traffic(before, 9)
        # The service stopped with Redis still down; it comes back after Redis does.
        server.start()
        after = make_client(MarkerScorer(), **_settings(server.url))
        _wait_drained(after)
        _assert_all_recorded_once(after, verdicts)


def test_of_two_texts_under_one_id_the_first_keeps_the_status(make_client: Callable[..., TestClient]) -> None:
    with ThrowawayRedis() as server:
        client = make_client(MarkerScorer(), **_settings(server.url, JOURNAL_RETRY_MS=2_000))
        server.stop()
        first = moderate(client, "same-id", TEXTS["review"])
        server.start()
        # Redis is back but the journal still holds `first`: this one queues behind it (no 409 yet: the
        # conflict can only be known once `first` is written).
        second = moderate(client, "same-id", "Another text under the same id [[insult=0.95]]")
        assert second["status_token"] and second["status_token"] != first["status_token"]
        _wait_drained(client)
        assert status(client, first)["status"] == "pending_review"
        wrong = client.get("/v1/comments/same-id", headers={"X-Status-Token": second["status_token"]})
        assert wrong.status_code == 404
        assert "moderation_journal_conflicts_total 1.0" in client.get("/metrics").text


def test_past_its_bound_verdicts_still_go_out_without_a_token(make_client: Callable[..., TestClient]) -> None:
    with ThrowawayRedis() as server:
        client = make_client(MarkerScorer(), **_settings(server.url, JOURNAL_MAX_RECORDS=2))
        server.stop()
        verdicts = [moderate(client, f"b-{i}", TEXTS["review"] + f" {i}") for i in range(4)]
        assert [bool(v["status_token"]) for v in verdicts] == [True, True, False, False]
        assert all(v["verdict"] == "review" for v in verdicts)  # answered all the same
        ready = client.get("/readyz")
        # Records are being lost now: not ready, and the details say why.
        assert ready.status_code == 503
        assert ready.json()["checks"]["journal"]["detail"].startswith("FULL")
        assert "moderation_journal_dropped_total 2.0" in client.get("/metrics").text
        server.start()
        _wait_drained(client)
        for verdict in verdicts[:2]:
            assert status(client, verdict)["status"] == "pending_review"


def test_reviews_sent_during_an_outage_reach_the_queue(make_client: Callable[..., TestClient]) -> None:
    # The measurement, in small: reviews answered while Redis was down never reached the queue.
    with ThrowawayRedis() as server:
        client = make_client(MarkerScorer(), **_settings(server.url))
        server.stop()
        for i in range(5):
            assert moderate(client, f"q-{i}", f"{TEXTS['review']} {i}")["verdict"] == "review"
        server.start()
        deadline = time.monotonic() + 15
        while client.get("/readyz").json()["checks"]["redis"]["ok"] is not True:
            assert time.monotonic() < deadline, "Redis never answered again"
            time.sleep(0.1)
        headers = login(client)
        pending: list[str] = []
        while len(pending) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
            queue = client.get("/v1/review", params={"limit": 50}, headers=headers).json()
            pending = [item["comment_id"] for item in queue["items"]]
        assert pending == [f"q-{i}" for i in range(5)]


def test_a_data_directory_it_cannot_use_stops_the_start_with_remedies(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings = make_settings(REDIS_URL="redis://127.0.0.1:1/0", DATA_DIR=blocker / "data")
    with pytest.raises(StartupError, match="MODERATION_DATA_DIR") as raised:
        with TestClient(create_app(settings, scorer=MarkerScorer())):
            pass
    assert "MODERATION_JOURNAL=false" in str(raised.value)
