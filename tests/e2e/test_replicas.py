"""Two `moderation serve` processes on two ports sharing one Redis (issue 12, item 6), as a deployment with
replicas behind a load balancer runs them: one key prefix, one session secret, one rules folder.

What one replica did, the other must know: a moderator's session, a moderator's decision, the counts the
dashboard shows (each process's /metrics counts its own; they add up to what the dashboard shows), the
login attempts counted against a limit, and an edit of the shared word lists.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.redis_server import delete_keys_under, free_port

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "replica-test-password-" + secrets.token_urlsafe(12)
PATIENCE_S = 30.0


class Replica:
    def __init__(self, name: str, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.name, self.proc, self.port, self.log = name, proc, port, log
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

    def moderate(self, text: str, comment_id: str) -> dict:
        answer = self.client.post("/v1/moderate", json={"text": text, "id": comment_id})
        assert answer.status_code == 200, (self.name, answer.text)
        return answer.json()

    def stop(self) -> None:
        self.client.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {PATIENCE_S} s for {what}")
        time.sleep(0.1)


def _start(name: str, env: dict[str, str], tmp: Path) -> Replica:
    port, log = free_port(), tmp / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    replica = Replica(name, proc, port, log)
    deadline = time.monotonic() + 120
    while True:
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if replica.client.get("/readyz").status_code == 200:
                return replica
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"{name} not ready:\n{log.read_text()}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The rules both replicas read (as a shared volume would be), with a review term of the test's own."""
    rules = tmp_path_factory.mktemp("shared") / "rules"
    shutil.copytree(REPO / "rules", rules)
    (rules / "wordlist" / "site-suspect.txt").write_text("[review personal]\nnumpty\n")
    return rules


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, redis_url: str, rules_dir: Path
) -> Iterator[tuple[Replica, Replica]]:
    prefix = f"test-replicas-{secrets.token_hex(4)}:"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    env.update(
        REDIS_URL=redis_url,
        MODERATION_REDIS_PREFIX=prefix,
        # What every replica of one deployment shares, as docker/compose.yml's replicas profile sets them.
        MODERATION_ADMIN_PASSWORD=PASSWORD,
        MODERATION_SESSION_SECRET=secrets.token_urlsafe(32),
        MODERATION_RULES_DIR=str(rules_dir),
        MODERATION_MODEL="none",  # the word list judges: what is shared is under test, not the model
        MODERATION_LOGIN_LIMIT_PER_USER="3/minute",
        MODERATION_LOGIN_LIMIT_PER_IP="100/minute",
        MODERATION_RULES_RELOAD_POLL_S="0.2",
        MODERATION_LOG_LEVEL="INFO",
    )
    tmp = tmp_path_factory.mktemp("replicas")
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            started.append(_start(name, env, tmp))
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.stop()
        delete_keys_under(redis_url, prefix)


def _login(replica: Replica) -> str:
    """Log in on `replica`; returns the CSRF token (the session cookie stays in its client)."""
    answer = replica.client.post("/v1/session", json={"user": "admin", "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["csrf_token"])


def _carry_session(source: Replica, target: Replica) -> None:
    """The session cookie `source` set, sent to `target` too (a load balancer sends it to either)."""
    for name, value in source.client.cookies.items():
        target.client.cookies.set(name, value)


def test_a_session_made_on_one_replica_works_on_the_other_and_a_logout_ends_it_there(replicas):
    a, b = replicas
    csrf = _login(a)
    _carry_session(a, b)
    assert b.client.get("/v1/review").status_code == 200
    assert b.client.get("/dashboard/review").status_code == 200
    # Logged out on b: a no longer knows the session either.
    assert b.client.delete("/v1/session", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert a.client.get("/v1/review").status_code == 401
    a.client.cookies.clear()
    b.client.cookies.clear()


def test_a_decision_on_one_replica_shows_on_the_other(replicas):
    a, b = replicas
    comment_id = f"replica-{secrets.token_hex(4)}"
    verdict = a.moderate("You numpty, read the article.", comment_id)
    assert verdict["verdict"] == "review", verdict
    csrf = _login(b)
    queue = b.client.get("/v1/review").json()
    assert comment_id in [item["comment_id"] for item in queue["items"]]
    decided = b.client.post(
        f"/v1/review/{comment_id}", json={"decision": "approve"}, headers={"X-CSRF-Token": csrf}
    )
    assert decided.status_code == 200 and decided.json()["status"] == "approved"
    # The commenter's status, asked of the other replica with the token the first one gave.
    status = a.client.get(f"/v1/comments/{comment_id}", headers={"X-Status-Token": verdict["status_token"]})
    assert status.status_code == 200 and (status.json()["status"], status.json()["publish"]) == (
        "approved",
        True,
    )
    # And the decision is final everywhere: deciding again on a is a conflict, not a second decision.
    _carry_session(b, a)
    again = a.client.post(
        f"/v1/review/{comment_id}", json={"decision": "reject"}, headers={"X-CSRF-Token": csrf}
    )
    assert again.status_code == 409
    assert comment_id not in [item["comment_id"] for item in a.client.get("/v1/review").json()["items"]]
    a.client.cookies.clear()
    b.client.cookies.clear()


_ACCEPTS = re.compile(r'data-count="verdict:accept"><th>[^<]*</th><td class="num hour">(\d+)</td>')
_VERDICTS_METRIC = re.compile(r'^moderation_verdicts_total\{verdict="accept"\} (\S+)$', re.M)


def _dashboard_accepts(replica: Replica) -> int:
    page = replica.client.get("/dashboard")
    assert page.status_code == 200, page.text
    found = _ACCEPTS.search(page.text)
    assert found is not None, "no accept count on the overview"
    return int(found.group(1))


def _metric_accepts(replica: Replica) -> float:
    found = _VERDICTS_METRIC.search(replica.client.get("/metrics").text)
    assert found is not None, "no accept counter in /metrics"
    return float(found.group(1))


def test_counts_add_up_across_replicas(replicas):
    a, b = replicas
    _login(a)
    _carry_session(a, b)
    before = _dashboard_accepts(a)
    metrics_before = _metric_accepts(a) + _metric_accepts(b)
    run = secrets.token_hex(4)
    # Distinct texts (no cache hits) made of plain words: a random hex tag in the text can read as leetspeak
    # for a listed word ("a55..." folds to "ass") and turn an accept into a review.
    words = ["maple", "harbor", "lantern", "meadow", "pebble"]
    tag = " ".join(secrets.choice(words) for _ in range(6))
    for n in range(3):
        text = f"A fine article, thank you ({tag}, from {words[n]} on the first)."
        assert a.moderate(text, f"{run}-a{n}")["verdict"] == "accept"
    for n in range(2):
        text = f"A fine article, thank you ({tag}, from {words[n]} on the second)."
        assert b.moderate(text, f"{run}-b{n}")["verdict"] == "accept"
    # The dashboard (counted in Redis) shows all five on either replica; each /metrics counts its own.
    assert _dashboard_accepts(a) - before == 5
    assert _dashboard_accepts(b) - before == 5
    assert _metric_accepts(a) + _metric_accepts(b) - metrics_before == 5
    a.client.cookies.clear()
    b.client.cookies.clear()


def test_login_attempts_count_against_one_limit_whichever_replica_they_reach(replicas):
    a, b = replicas
    user = f"guess-{secrets.token_hex(4)}"  # LOGIN_LIMIT_PER_USER is 3/minute here
    tries = [a, a, b]
    for replica in tries:
        wrong = replica.client.post("/v1/session", json={"user": user, "password": "not-it"})
        assert wrong.status_code == 401, wrong.text
    # The fourth, on either replica, is refused: the attempts were counted together.
    for replica in (a, b):
        refused = replica.client.post("/v1/session", json={"user": user, "password": "not-it"})
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_login_attempts"


def test_a_rules_edit_reaches_both_replicas(replicas, rules_dir: Path):
    a, b = replicas
    term = "zq" + "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(10))
    (rules_dir / "wordlist" / "site-suspect.txt").write_text(f"[review personal]\nnumpty\n{term}\n")
    policy = yaml.safe_load((rules_dir / "policy.yaml").read_text())
    policy["version"] = f"edited-{term}"
    (rules_dir / "policy.yaml").write_text(yaml.safe_dump(policy))

    def edited(replica: Replica) -> bool:
        verdict = replica.moderate(f"You {term}.", f"edit-{secrets.token_hex(4)}")
        listed = any(m["term"] == term for m in verdict["profanity"]["matches"])
        return listed and verdict["policy_version"] == f"edited-{term}"

    # Each replica watches the shared files and rebuilds on its own; neither restarts.
    _until(lambda: edited(a), "replica a to serve the edited word list and policy")
    _until(lambda: edited(b), "replica b to serve the edited word list and policy")
