"""Issue 12, item 1, as a crash: `moderation serve` answers while Redis is down, is killed (SIGKILL, no
shutdown), and once Redis and the service are back every verdict it answered has its status, with the token
the client got. What was fsynced survives the crash; the test waits out the group window before killing.

A real served process (word lists only: MODERATION_MODEL=none, with a review-tier term added to a copy of the
rules), a real throwaway redis-server killed and started again (empty), real HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.redis_server import ThrowawayRedis, free_port

REPO = Path(__file__).resolve().parents[2]
TEXTS = {"accept": "A kind word #{i}", "review": "You numpty #{i}", "reject": "What a fucking mess #{i}"}
STATUS_OF = {"accept": "accepted", "review": "pending_review", "reject": "rejected"}


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    """The shipped rules plus one review-tier term, so that a word-list-only service also holds reviews."""
    copy = tmp_path / "rules"
    shutil.copytree(REPO / "rules", copy)
    suspect = copy / "wordlist" / "site-suspect.txt"
    suspect.write_text(suspect.read_text() + "\n[review personal]\nnumpty\n")
    return copy


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    with ThrowawayRedis() as server:
        yield server


def _request(
    port: int, method: str, path: str, body: object | None = None, **headers: str
) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    if data:
        headers["content-type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _serve(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if _request(port, "GET", "/readyz")[0] == 200:
                return proc
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"server not ready:\n{log.read_text()}")


def test_a_killed_service_loses_no_fsynced_record(
    redis_server: ThrowawayRedis, rules: Path, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    env.update(
        REDIS_URL=redis_server.url,
        MODERATION_REDIS_PREFIX="journal-e2e:",
        MODERATION_MODEL="none",
        MODERATION_RULES_DIR=str(rules),
        MODERATION_DATA_DIR=str(tmp_path / "data"),
        MODERATION_ADMIN_PASSWORD="test-password-long-enough",
        MODERATION_JOURNAL_RETRY_MS="100",
        MODERATION_LOG_LEVEL="INFO",
    )
    port, log = free_port(), tmp_path / "server.log"
    redis_server.stop()
    first = _serve(port, env, log)  # ready with Redis down: the journal takes the records
    verdicts: dict[str, dict[str, Any]] = {}
    try:
        for i in range(30):
            kind = list(TEXTS)[i % 3]
            code, verdict = _request(
                port, "POST", "/v1/moderate", {"id": f"k-{i}", "text": TEXTS[kind].format(i=i)}
            )
            assert code == 200 and verdict["verdict"] == kind and verdict["status_token"], verdict
            verdicts[verdict["id"]] = verdict
        code, ready = _request(port, "GET", "/readyz")
        assert code == 200 and ready["checks"]["journal"]["detail"].startswith("30 record(s)")
        time.sleep(0.5)  # past the fsync group window (50 ms by default)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)

    redis_server.start()
    second = _serve(port, env, log)
    try:
        deadline = time.monotonic() + 20
        while not _request(port, "GET", "/readyz")[1]["checks"]["journal"]["detail"].startswith("empty"):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        for comment_id, verdict in verdicts.items():
            code, body = _request(
                port, "GET", f"/v1/comments/{comment_id}", **{"X-Status-Token": verdict["status_token"]}
            )
            assert code == 200 and body["status"] == STATUS_OF[verdict["verdict"]], (comment_id, body)
        assert "30 decision record(s)" in log.read_text()  # loaded at start, then replayed
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(timeout=15)
        except subprocess.TimeoutExpired:
            second.kill()
