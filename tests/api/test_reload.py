"""Editing the rules under a running app (issue 12, item 5): requests never wait for a rebuild, a broken
edit keeps the old rules and says so in /readyz's details and /metrics, and the policy reloads too.

The rebuild is held at its start with a gate around the word list's real build (`WordList.from_entries`),
so the test can look at what requests get *while* it is under way: it asserts the order of events, not how
long anything took.
"""

from __future__ import annotations

import pathlib
import secrets
import shutil
import string
import threading
import time
from collections.abc import Callable, Iterator, Mapping

import pytest
import yaml
from fastapi.testclient import TestClient

from service.app import create_app
from service.wordlist.matcher import WordList
from service.wordlist.rules import Entry
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
PATIENCE_S = 20.0
#: A bounded hold: a build the test forgets to release (or one run on the request's path) ends by itself.
GATE_S = 10.0


class BuildGate:
    """Holds every word-list build that starts while `armed`, until `release` (or GATE_S)."""

    def __init__(self) -> None:
        self.armed = False
        self.started = threading.Event()
        self.release = threading.Event()
        self.finished = threading.Event()


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[BuildGate]:
    gate = BuildGate()
    real = WordList.from_entries.__func__  # type: ignore[attr-defined]

    def gated(cls: type[WordList], entries: Mapping[str, Entry]) -> WordList:
        if gate.armed:
            gate.started.set()
            gate.release.wait(timeout=GATE_S)
            try:
                return real(cls, entries)
            finally:
                gate.finished.set()
        return real(cls, entries)

    monkeypatch.setattr(WordList, "from_entries", classmethod(gated))
    yield gate
    gate.release.set()


@pytest.fixture
def rules_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    shutil.copytree(RULES, tmp_path / "rules")
    return tmp_path / "rules"


@pytest.fixture
def served(rules_dir: pathlib.Path) -> Iterator[TestClient]:
    settings = make_settings(RULES_DIR=rules_dir, RULES_RELOAD_POLL_S=0.05, RULES_RELOAD_DEBOUNCE_S=0.05)
    with TestClient(create_app(settings, scorer=MarkerScorer())) as client:
        yield client


def _new_term() -> str:
    # A term no other test lists, so that its word list is built here, not found among those built before.
    return "zq" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


def _listed(client: TestClient, term: str) -> bool:
    answer = client.post("/v1/moderate", json={"text": f"You {term}."})
    assert answer.status_code == 200, answer.text
    return any(m["term"] == term for m in answer.json()["profanity"]["matches"])


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {PATIENCE_S} s for {what}")
        time.sleep(0.02)


def test_a_request_during_a_rebuild_is_answered_with_the_old_rules(
    gate: BuildGate, served: TestClient, rules_dir: pathlib.Path
) -> None:
    # Before: WordListWatcher.current() rebuilt inline on the event loop, so the request that noticed the
    # edit (and every request behind it) waited for the whole build, ~2.4 s.
    term = _new_term()
    gate.armed = True
    (rules_dir / "wordlist" / "site-suspect.txt").write_text(f"[review personal]\n{term}\n")
    # Requests go on as usual until the rebuild has started (whoever starts it)...
    _until(lambda: _listed(served, term) or gate.started.is_set(), "the rebuild to start")
    # ...and one made while it is held is answered, with the old rules, before the build is let go.
    during = served.post("/v1/moderate", json={"text": f"You {term}."})
    ready = served.get("/readyz")
    still_building = not gate.finished.is_set()
    gate.release.set()
    assert still_building, "the request waited for the rebuild"
    assert during.status_code == 200 and during.json()["profanity"]["matches"] == []
    assert ready.status_code == 200
    _until(lambda: _listed(served, term), "the edit to be served")


def test_a_broken_edit_keeps_the_old_rules_and_readyz_and_metrics_say_so(
    served: TestClient, rules_dir: pathlib.Path
) -> None:
    suspect = rules_dir / "wordlist" / "site-suspect.txt"
    suspect.write_text("[review nonsense]\nnumpty\n")

    def reported() -> bool:
        return "moderation_rules_reload_broken 1.0" in served.get("/metrics").text

    _until(reported, "/metrics to report the broken edit")
    answer = served.post("/v1/moderate", json={"text": "This is fucking ridiculous."})
    assert answer.status_code == 200 and answer.json()["verdict"] == "reject"  # the old rules still judge
    ready = served.get("/readyz")
    assert ready.status_code == 200, "a broken edit must not take the service out of rotation"
    detail = ready.json()["checks"]["reload"]["detail"]
    assert "do not build" in detail and "site-suspect.txt" in detail
    assert "moderation_rules_reload_failures_total 1.0" in served.get("/metrics").text
    # Fixed: served, and the error is gone.
    suspect.write_text(f"[review personal]\n{_new_term()}\n")
    _until(lambda: "moderation_rules_reload_broken 0.0" in served.get("/metrics").text, "the fix")
    assert "served are the files'" in served.get("/readyz").json()["checks"]["reload"]["detail"]


def test_a_policy_edit_is_served_without_a_restart(served: TestClient, rules_dir: pathlib.Path) -> None:
    # Before: the policy was read once at startup; an edit needed a restart.
    policy = yaml.safe_load((rules_dir / "policy.yaml").read_text())
    assert served.post("/v1/moderate", json={"text": "Meh [[insult=0.6]]"}).json()["verdict"] == "review"
    policy["version"] = "stricter"
    policy["categories"]["insult"]["reject"] = 0.55
    (rules_dir / "policy.yaml").write_text(yaml.safe_dump(policy))

    def stricter() -> bool:
        verdict = served.post("/v1/moderate", json={"text": "Meh [[insult=0.6]]"}).json()
        return verdict["policy_version"] == "stricter"

    _until(stricter, "the edited policy to be served")
    verdict = served.post("/v1/moderate", json={"text": "Meh [[insult=0.6]] again"}).json()
    assert (verdict["verdict"], verdict["policy_version"]) == ("reject", "stricter")
    assert "stricter" in served.get("/readyz").json()["checks"]["policy"]["detail"]
