"""Perspective's door on `moderation serve` as a real process: Coral Talk's exact body over real HTTP to the
real Detoxify loader (a tiny checkpoint built here), and doNotStore proven against a real Redis and the
server's own log at DEBUG."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.e2e.test_serve import Server, _env, _start, _wait_ready
from tests.e2e.test_serve import tiny_model as tiny_model  # a fixture
from tests.support.redis_contents import contents_under
from tests.support.redis_server import delete_keys_under, free_port

#: Distinctive, so that finding it anywhere means the text was kept.
MARK = "c0ra1-9b7e"


def post_raw(server: Server, path: str, body: bytes) -> tuple[int, str, dict[str, object]]:
    """POST `body` as Coral's fetch sends it (its own bytes, Content-Type application/json)."""
    req = urllib.request.Request(
        server.base + path, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.headers["Content-Type"], json.loads(r.read())


def coral_body(text: str) -> bytes:
    return (
        '{"comment":{"text":' + json.dumps(text) + '},"doNotStore":true,'
        '"requestedAttributes":{"TOXICITY":{}},"languages":["en"]}'
    ).encode()


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"test-perspective-{os.getpid()}:"


@pytest.fixture(scope="module")
def server(
    tiny_model: Path, tmp_path_factory: pytest.TempPathFactory, redis_url: str, prefix: str
) -> Iterator[Server]:
    port = free_port()
    log = tmp_path_factory.mktemp("perspective-serve") / "server.log"
    env = _env(
        MODERATION_MODEL_PATH=str(tiny_model),
        REDIS_URL=redis_url,
        MODERATION_REDIS_PREFIX=prefix,
        MODERATION_LOG_LEVEL="DEBUG",
    )
    proc = _start(["serve"], env, log, port)
    srv = Server(proc, port, log)
    try:
        _wait_ready(srv)
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        delete_keys_under(redis_url, prefix)


def test_corals_body_over_http_with_the_real_model(server: Server) -> None:
    status, content_type, answer = post_raw(
        server, "/v1alpha1/comments:analyze?key=coral-site-key", coral_body("What a thoughtful article.")
    )
    assert status == 200 and content_type == "application/json"
    score = answer["attributeScores"]["TOXICITY"]["summaryScore"]  # type: ignore[index]
    assert score["type"] == "PROBABILITY" and 0.0 <= score["value"] <= 1.0
    assert answer["languages"] == ["en"]


def test_do_not_store_keeps_nothing_in_redis_or_the_log(server: Server, redis_url: str, prefix: str) -> None:
    texts = [f"A quiet remark {MARK}.", f"What a fucking mess {MARK}."]  # accepted, rejected by the word list
    for text in texts:
        assert post_raw(server, "/v1alpha1/comments:analyze", coral_body(text))[0] == 200
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        stored = contents_under(client, prefix)
        assert all(key.startswith(f"{prefix}count:") for key in stored), sorted(stored)
        assert not [key for key, value in stored.items() if MARK in value]
        # Without doNotStore the rejected comment is logged: the scan above could have found it.
        body = json.loads(coral_body(texts[1]))
        body["doNotStore"] = False
        assert post_raw(server, "/v1alpha1/comments:analyze", json.dumps(body).encode())[0] == 200
        assert [key for key, value in contents_under(client, prefix).items() if MARK in value]
    finally:
        client.close()
    # The server logged at DEBUG, and not one line holds the text (nor did the stored request's).
    log = server.log.read_text()
    assert "comments%3Aanalyze" in log and MARK not in log
