"""service/web/teach.py: moderators teach the word list from the dashboard (issue 11, item 7).

A started app with a real Redis, a logged-in dashboard session and its own copy of rules/ (reloaded by the
app's RulesWatcher), so what a confirmation writes is what the next moderation is judged by.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from service.wordlist.rules import parse_rules_file
from tests.support.admin import ADMIN_PASSWORD, csrf_token, dashboard_login
from tests.support.scorers import MarkerScorer

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
# Made-up words, blocked in the test's copy of the rules: nothing a real list will ever hold or release.
BLOCKED = "grimblat"


@pytest.fixture
def rules_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    block = copy / "wordlist" / "site-block.txt"
    block.write_text(block.read_text().replace("[reject obscene]\n", f"[reject obscene]\n{BLOCKED}\n", 1))
    return copy


@pytest.fixture
def app(
    make_client: Callable[..., TestClient], redis_url: str, key_prefix: str, rules_dir: pathlib.Path
) -> TestClient:
    client = make_client(
        MarkerScorer(),
        REDIS_URL=redis_url,
        REDIS_PREFIX=key_prefix,
        ADMIN_PASSWORD=ADMIN_PASSWORD,
        RULES_DIR=rules_dir,
        RULES_RELOAD_POLL_S=0.1,
        RULES_RELOAD_DEBOUNCE_S=0.1,
    )
    dashboard_login(client)
    return client


def _moderate(app: TestClient, text: str, comment_id: str | None = None) -> dict[str, object]:
    response = app.post("/v1/moderate", json={"text": text, "id": comment_id or uuid.uuid4().hex})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _verdict_after_reload(app: TestClient, text: str, expected: str, timeout_s: float = 15.0) -> str:
    """The verdict of `text` (a fresh id each time) once the reload has happened, or the last one seen."""
    deadline = time.monotonic() + timeout_s
    verdict = ""
    while time.monotonic() < deadline:
        verdict = str(_moderate(app, text)["verdict"])
        if verdict == expected:
            break
        time.sleep(0.2)
    return verdict


def _token(app: TestClient) -> str:
    return csrf_token(app.get("/dashboard/rejections").text)


def test_allow_offer_after_overturning_a_wordlist_rejection_then_whatif_then_write(
    app: TestClient, rules_dir: pathlib.Path
) -> None:
    text = f"What a {BLOCKED.capitalize()} this is."
    assert _moderate(app, text, "t1")["verdict"] == "reject"
    long_text = f"<i>another</i> {BLOCKED} here " + "and on " * 30
    assert _moderate(app, long_text, "t2")["verdict"] == "reject"
    assert _moderate(app, "You are a <b>dolt</b> [[insult=0.95]]", "t3")["verdict"] == "reject"
    page = app.get("/dashboard/rejections").text
    assert "teach-allow" not in page  # no offer before a moderator overturned anything
    app.post("/dashboard/comments/t1/overturn", data={"csrf_token": _token(app)})
    page = app.get("/dashboard/rejections").text
    assert page.count('class="teach-allow"') == 1
    assert "/dashboard/teach?list=allow&amp;comment=t1" in page

    offer = app.get("/dashboard/teach", params={"list": "allow", "comment": "t1"})
    assert offer.status_code == 200
    assert f'name="term" value="{BLOCKED}"' in offer.text  # as written, folded as the file holds it
    assert 'id="read-only"' not in offer.text and 'id="confirm"' not in offer.text

    whatif = app.get("/dashboard/teach", params={"list": "allow", "comment": "t1", "term": BLOCKED})
    assert whatif.status_code == 200, whatif.text
    flips = whatif.text.split('id="flips"', 1)[1].split("</table>", 1)[0]
    assert "<bdi>t1</bdi>" in flips and "<bdi>t2</bdi>" in flips and "t3" not in flips
    assert flips.count('class="flip"') == 2
    assert "&lt;i&gt;another&lt;/i&gt;" in flips and "<i>" not in flips  # escaped excerpts, cut with …
    assert "and on and on" in flips and "…</td>" in flips and long_text[:121] not in flips
    assert '<span class="badge reject">reject</span> → <span class="badge accept">accept</span>' in flips
    assert 'id="changed-count">2<' in whatif.text
    before = (rules_dir / "wordlist" / "site-allow.txt").read_text()
    assert BLOCKED not in before  # shown, not written

    done = app.post(
        "/dashboard/teach",
        data={"csrf_token": csrf_token(whatif.text), "list": "allow", "term": BLOCKED, "comment": "t1"},
    )
    assert f"Added &#39;{BLOCKED}&#39; to site-allow.txt" in done.text
    after = (rules_dir / "wordlist" / "site-allow.txt").read_text()
    assert after == before.rstrip("\n") + f"\n{BLOCKED}\n"  # the header and entries kept, [allow] last
    assert not [p.name for p in (rules_dir / "wordlist").iterdir() if p.name.endswith(".tmp")]
    assert _verdict_after_reload(app, text, "accept") == "accept"


def test_the_rules_change_is_in_the_decision_log(app: TestClient, redis_url: str, key_prefix: str) -> None:
    import redis

    _moderate(app, f"a {BLOCKED}", "l1")
    whatif = app.get("/dashboard/teach", params={"list": "allow", "comment": "l1", "term": BLOCKED})
    app.post(
        "/dashboard/teach", data={"csrf_token": csrf_token(whatif.text), "list": "allow", "term": BLOCKED}
    )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        streams = [k for k in client.scan_iter(f"{key_prefix}*") if client.type(k) == "stream"]
        entries = [fields for s in streams for _, fields in client.xrange(s)]
    finally:
        client.close()
    rules = [e for e in entries if e.get("kind") == "rules"]
    listed = app.get("/v1/review/log")
    assert listed.status_code == 200 and [e["comment_id"] for e in listed.json()["entries"]] == ["l1"]
    assert rules == [
        {
            "kind": "rules",
            "comment_id": "",
            "action": "add_term",
            "moderator": "admin",
            "term": BLOCKED,
            "file": "site-allow.txt",
            "at_ms": rules[0]["at_ms"],
        }
    ]


def test_block_offer_after_rejecting_a_review_the_list_missed(
    app: TestClient, rules_dir: pathlib.Path
) -> None:
    assert _moderate(app, "You snorfwit [[insult=0.6]]", "b1")["verdict"] == "review"
    app.post("/dashboard/review/b1", data={"decision": "reject", "csrf_token": _token(app)})
    page = app.get("/dashboard/rejections", params={"verdict": "review"}).text
    assert "/dashboard/teach?list=block&amp;comment=b1" in page

    whatif = app.get(
        "/dashboard/teach",
        params={"list": "block", "comment": "b1", "term": " SnorfWit ", "clause": "personal"},
    )
    flips = whatif.text.split('id="flips"', 1)[1].split("</table>", 1)[0]
    assert "<bdi>b1</bdi>" in flips
    assert '<span class="badge review">review</span> → <span class="badge reject">reject</span>' in flips
    assert _moderate(app, "What a snorfwit.")["verdict"] == "accept"

    app.post(
        "/dashboard/teach",
        data={
            "csrf_token": csrf_token(whatif.text),
            "list": "block",
            "term": "snorfwit",
            "clause": "personal",
            "comment": "b1",
        },
    )
    text = (rules_dir / "wordlist" / "site-block.txt").read_text()
    entries = {e.term: e for _, e in parse_rules_file(rules_dir / "wordlist" / "site-block.txt", ("reject",))}
    assert entries["snorfwit"].clause == "personal" and entries[BLOCKED].clause == "obscene"
    assert text.startswith("# Terms this site rejects")
    assert _verdict_after_reload(app, "What a snorfwit.", "reject") == "reject"


def test_confirming_needs_the_csrf_token(app: TestClient, rules_dir: pathlib.Path) -> None:
    before = (rules_dir / "wordlist" / "site-allow.txt").read_text()
    for token in (None, "forged"):
        data = {"list": "allow", "term": BLOCKED} | ({"csrf_token": token} if token else {})
        response = app.post("/dashboard/teach", data=data, follow_redirects=False)
        assert response.status_code in (400, 403), response.status_code
    assert (rules_dir / "wordlist" / "site-allow.txt").read_text() == before


def test_a_duplicate_or_a_term_the_format_cannot_hold_is_refused(
    app: TestClient, rules_dir: pathlib.Path
) -> None:
    token = _token(app)
    first = app.post("/dashboard/teach", data={"csrf_token": token, "list": "allow", "term": "Gobbet"})
    assert "Added &#39;gobbet&#39; to site-allow.txt" in first.text
    written = (rules_dir / "wordlist" / "site-allow.txt").read_text()
    again = app.post("/dashboard/teach", data={"csrf_token": token, "list": "allow", "term": "GOBBET"})
    assert "Nothing was written: &#39;gobbet&#39; is already in site-allow.txt" in again.text
    for bad, why in (("a # b", "starts a comment"), ("x | stem", "starts a flag"), ("x" * 61, "at most 60")):
        refused = app.post("/dashboard/teach", data={"csrf_token": token, "list": "allow", "term": bad})
        assert "Nothing was written" in refused.text and why in refused.text
    whatif = app.get("/dashboard/teach", params={"list": "allow", "term": "gobbet"})
    assert 'id="teach-error"' in whatif.text and "already in site-allow.txt" in whatif.text
    assert (rules_dir / "wordlist" / "site-allow.txt").read_text() == written


@pytest.fixture
def immutable_rules(rules_dir: pathlib.Path) -> Iterator[pathlib.Path]:
    """The word-list folder made unwritable even for root (as a read-only mount is), where chattr works."""
    folder = rules_dir / "wordlist"
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_rules_are_said_and_never_written(app: TestClient, immutable_rules: pathlib.Path) -> None:
    _moderate(app, f"one {BLOCKED}", "r1")
    before = (immutable_rules / "site-allow.txt").read_text()
    page = app.get("/dashboard/teach", params={"list": "allow", "comment": "r1", "term": BLOCKED})
    assert 'id="read-only"' in page.text and "The rules are read-only here" in page.text
    assert 'id="flips"' in page.text and 'id="confirm"' not in page.text  # the what-if still shows
    refused = app.post(
        "/dashboard/teach", data={"csrf_token": csrf_token(page.text), "list": "allow", "term": BLOCKED}
    )
    assert "The rules are read-only here: nothing was written" in refused.text
    assert (immutable_rules / "site-allow.txt").read_text() == before


def test_one_write_at_a_time(app: TestClient, rules_dir: pathlib.Path) -> None:
    from service.web import teach

    before = (rules_dir / "wordlist" / "site-allow.txt").read_text()
    assert teach._writing.acquire(blocking=False)  # another moderator's write in progress
    try:
        busy = app.post(
            "/dashboard/teach", data={"csrf_token": _token(app), "list": "allow", "term": "gobbet"}
        )
    finally:
        teach._writing.release()
    assert "being written; try again in a moment" in busy.text
    assert (rules_dir / "wordlist" / "site-allow.txt").read_text() == before
