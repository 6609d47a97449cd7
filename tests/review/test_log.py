"""DecisionLog on both stores: recording, the moderators' state machine, and the reads it delegates.

What the stores themselves promise is held by tests/store/test_contract.py; here the same DecisionLog runs
on a MemoryStore (small enough to go past its bound) and on a real Redis.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
import redis

from service.moderation.types import Comment, Profanity, Reason, Verdict, WordMatch
from service.review.log import DecisionLog
from service.review.models import CommentNotFound, DecisionConflict
from service.store import Keys, LogCursor, MemoryStore, RedisStore, Store

pytestmark = pytest.mark.anyio


def _verdict(comment_id: str, kind: str, *, cached: bool = False) -> Verdict:
    reasons, matches = [], []
    if kind != "accept":
        matches = [WordMatch(term="darn", tier="reject", clause="obscene", start=5, end=9, text="darn")]
        reasons = [
            Reason(
                code="wordlist_match",
                clause="obscene",
                source="wordlist",
                action=kind,
                term="darn",
                start=5,
                end=9,
            ),
            Reason(
                code="model_score",
                clause="personal",
                source="model",
                action="review",
                category="insult",
                score=0.61,
                threshold=0.5,
            ),
        ]
    return Verdict(
        id=comment_id,
        verdict=kind,
        reasons=reasons,
        profanity=Profanity(matches=matches),
        scores={"insult": 0.61},
        cached=cached,
        policy_version="p1",
        model="m:1",
    )


MEMORY_BOUND = 5  # the memory store's max_entries here: small, so that tests go past it


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore(max_entries=MEMORY_BOUND)
        return
    redis_url, keys = request.getfixturevalue("redis_url"), request.getfixturevalue("keys")
    s = RedisStore.from_url(redis_url, prefix=keys.prefix)
    yield s
    await s.aclose()


@pytest.fixture
def decision_log(store: Store) -> DecisionLog:
    sent: list[dict] = []
    log = DecisionLog(store, max_entries=10_000, retention_s=3600, on_final=sent.append)
    log.sent = sent  # type: ignore[attr-defined]
    return log


async def _record_three(decision_log: DecisionLog) -> None:
    comments = [
        Comment(id="r1", text="What darn nonsense", article_id="a-1", author_id="u-1"),
        Comment(id="v1", text="Well darn you", article_id="a-2"),
        Comment(id="ok1", text="Lovely piece", article_id="a-1"),
    ]
    await decision_log.record(
        comments, [_verdict("r1", "reject"), _verdict("v1", "review"), _verdict("ok1", "accept")]
    )


async def test_record_logs_rejections_and_reviews_in_full_and_counts_acceptances(
    decision_log: DecisionLog,
) -> None:
    await _record_three(decision_log)

    page = await decision_log.entries(kind=None)
    assert [r.comment_id for r in page.records] == ["v1", "r1"]  # newest first; accepts are not logged
    rejected = page.records[1]
    assert (rejected.verdict, rejected.text, rejected.article_id, rejected.author_id) == (
        "reject",
        "What darn nonsense",
        "a-1",
        "u-1",
    )
    assert rejected.policy_version == "p1" and rejected.model == "m:1"
    assert [(r.clause, r.score, r.threshold) for r in rejected.reasons][1] == ("personal", 0.61, 0.5)
    # The word-list match and the reason it gave both locate "darn".
    assert rejected.spans == [(5, 9), (5, 9)]

    counts = await decision_log.counts()
    assert [counts.last_hour(f"verdict:{v}") for v in ("accept", "review", "reject")] == [1, 1, 1]
    assert counts.last_hour("clause:obscene") == 2 and counts.last_hour("clause:derogatory") == 0
    assert counts.last_day("cache:miss") == 3 and len(counts.minutes["verdict:accept"]) == 60

    assert [(await decision_log.status(i)).status for i in ("r1", "v1", "ok1")] == [
        "rejected",
        "pending_review",
        "accepted",
    ]
    assert [i.comment_id for i in await decision_log.queue()] == ["v1"]


async def test_a_restart_loses_nothing_already_logged(redis_url: str, keys: Keys) -> None:
    store = RedisStore.from_url(redis_url, prefix=keys.prefix)
    try:
        await _record_three(DecisionLog(store, max_entries=10_000, retention_s=3600))
    finally:
        await store.aclose()
    # A new store and log on the same Redis.
    store2 = RedisStore.from_url(redis_url, prefix=keys.prefix)
    try:
        again = DecisionLog(store2, max_entries=10_000, retention_s=3600)
        assert [r.comment_id for r in (await again.entries(kind=None)).records] == ["v1", "r1"]
        assert (await again.status("v1")).status == "pending_review"
        assert (await again.queue())[0].record.text == "Well darn you"
    finally:
        await store2.aclose()


async def test_decide_and_overturn(decision_log: DecisionLog) -> None:
    await decision_log.record(
        [
            Comment(id="v1", text="Well darn you"),
            Comment(id="r1", text="What darn nonsense"),
            Comment(id="ok1", text="fine"),
        ],
        [_verdict("v1", "review"), _verdict("r1", "reject"), _verdict("ok1", "accept")],
    )
    status = await decision_log.decide("v1", "approve", "mod-ann", "fair enough")
    assert (status.status, status.publish, status.decided_by, status.note) == (
        "approved",
        True,
        "mod-ann",
        "fair enough",
    )
    with pytest.raises(DecisionConflict):
        await decision_log.decide("v1", "reject", "mod-bob")
    with pytest.raises(CommentNotFound):
        await decision_log.decide("nobody", "reject", "mod-bob")
    assert await decision_log.queue() == []

    assert (await decision_log.overturn("r1", "mod-bob")).status == "approved"
    assert (await decision_log.overturn("ok1", "mod-bob")).status == "rejected_by_moderator"

    moderator_entries = (await decision_log.entries(kind="moderator")).records
    assert [(e.comment_id, e.action, e.overturn, e.previous_status) for e in moderator_entries] == [
        ("ok1", "reject", True, "accepted"),
        ("r1", "approve", True, "rejected"),
        ("v1", "approve", False, "pending_review"),
    ]
    assert [p["status"] for p in decision_log.sent] == ["approved", "approved", "rejected_by_moderator"]  # type: ignore[attr-defined]
    counts = await decision_log.counts()
    assert (counts.last_hour("decision:approve"), counts.last_hour("decision:overturn")) == (2, 2)


async def test_pages_and_filters_stay_bounded_on_a_long_log(decision_log: DecisionLog) -> None:
    comments, verdicts = [], []
    for i in range(130):
        kind = "reject" if i % 10 == 0 else "review"
        comments.append(Comment(id=f"c{i}", text=f"darn {i}", article_id="rare" if i == 3 else "common"))
        verdicts.append(_verdict(f"c{i}", kind))
    await decision_log.record(comments, verdicts)

    seen: list[str] = []
    before = None
    while True:
        page = await decision_log.entries(before=before, verdict="reject", page_size=5)
        seen += [r.comment_id for r in page.records]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == [f"c{i}" for i in range(120, -1, -10)]

    # A rare match beyond the scan limit: the page comes back short, saying where to go on.
    page = await decision_log.entries(article_id="rare", verdict=None, scan_limit=50)
    assert page.records == [] and page.scan_limited and page.next_before is not None
    page = await decision_log.entries(
        article_id="rare", verdict=None, before=page.next_before, scan_limit=200
    )
    assert [r.comment_id for r in page.records] == ["c3"] and page.next_before is None


async def test_a_rescored_comment_leaves_the_queue(decision_log: DecisionLog) -> None:
    await decision_log.record([Comment(id="e1", text="darn it")], [_verdict("e1", "review")])
    await decision_log.record([Comment(id="e1", text="edited")], [_verdict("e1", "accept")])
    assert await decision_log.queue() == []
    assert await decision_log.queue_size() == 0
    assert (await decision_log.status("e1")).status == "accepted"


async def test_a_pending_review_outlives_the_memory_bound_and_any_number_of_accepts(
    decision_log: DecisionLog,
) -> None:
    await decision_log.record([Comment(id="v1", text="Well darn you")], [_verdict("v1", "review")])
    await decision_log.decide("v1", "reject", "mod-ann")  # a decision, kept for the retention
    await decision_log.record([Comment(id="v2", text="darn again")], [_verdict("v2", "review")])
    many = [f"ok{i}" for i in range(4 * MEMORY_BOUND)]
    await decision_log.record(
        [Comment(id=i, text="fine") for i in many], [_verdict(i, "accept") for i in many]
    )
    assert (await decision_log.status("v1")).status == "rejected_by_moderator"
    assert (await decision_log.status("v2")).status == "pending_review"
    assert [i.comment_id for i in await decision_log.queue()] == ["v2"]
    assert (await decision_log.queue())[0].record.text == "darn again"
    assert (await decision_log.decide("v2", "approve", "mod-bob")).status == "approved"
    assert (await decision_log.status(many[-1])).status == "accepted"


async def test_of_moderators_deciding_one_comment_at_once_exactly_one_wins(decision_log: DecisionLog) -> None:
    await decision_log.record([Comment(id="v1", text="Well darn you")], [_verdict("v1", "review")])
    outcomes: list[str] = []

    async def decide(moderator: str) -> None:
        try:
            status = await decision_log.decide("v1", "approve", moderator)
            outcomes.append(status.decided_by or "")
        except DecisionConflict:
            outcomes.append("conflict")

    async with anyio.create_task_group() as tasks:
        for i in range(10):
            tasks.start_soon(decide, f"mod-{i}")
    winners = [o for o in outcomes if o != "conflict"]
    assert len(outcomes) == 10 and len(winners) == 1
    assert len(decision_log.sent) == 1  # type: ignore[attr-defined]
    assert [e.moderator for e in (await decision_log.entries(kind="moderator")).records] == winners


async def test_entries_page_by_cursor_and_its_text_round_trips(decision_log: DecisionLog) -> None:
    ids = [f"c{i}" for i in range(5)]
    await decision_log.record([Comment(id=i, text="darn") for i in ids], [_verdict(i, "reject") for i in ids])
    first = await decision_log.entries(page_size=2)
    assert [r.comment_id for r in first.records] == ["c4", "c3"]
    assert isinstance(first.next_before, LogCursor)
    assert str(first.next_before) == first.records[-1].id
    by_cursor = await decision_log.entries(before=first.next_before, page_size=2)
    # What a client sends back is the cursor's text; LogCursor.parse is the one reader of it.
    by_text = await decision_log.entries(before=LogCursor.parse(str(first.next_before)), page_size=2)
    assert (
        [r.comment_id for r in by_cursor.records] == [r.comment_id for r in by_text.records] == ["c2", "c1"]
    )
    assert [r.comment_id for r in (await decision_log.entries(before=None, page_size=1)).records] == ["c4"]
    for bad in ("(1-0", "1-0 ", "\u0661-0", "nope", ""):
        with pytest.raises(ValueError):
            LogCursor.parse(bad)


async def test_what_record_and_decide_write_to_redis(
    redis_url: str, keys: Keys, raw_redis: redis.Redis
) -> None:
    store = RedisStore.from_url(redis_url, prefix=keys.prefix)
    log = DecisionLog(store, max_entries=10_000, retention_s=3600)
    try:
        await _record_three(log)
        await log.decide("v1", "approve", "mod-ann", "fine")
    finally:
        await store.aclose()
    prefix = keys.prefix
    rejected, pending = raw_redis.hgetall(f"{prefix}comment:r1"), raw_redis.hgetall(f"{prefix}comment:v1")
    accepted = raw_redis.hgetall(f"{prefix}comment:ok1")
    common = {"status", "verdict", "updated_ms", "article_id", "author_id", "decided_by", "note", "log_id"}
    assert set(rejected) == set(accepted) == common and set(pending) == common | {"entry"}
    assert (rejected["status"], rejected["verdict"], rejected["author_id"]) == ("rejected", "reject", "u-1")
    assert accepted["log_id"] == "" and rejected["log_id"]
    assert (pending["status"], pending["decided_by"], pending["note"]) == ("approved", "mod-ann", "fine")
    assert 3500 < raw_redis.ttl(f"{prefix}comment:r1") <= 3600
    assert 3500 < raw_redis.ttl(f"{prefix}comment:v1") <= 3600  # decided: now it expires with the rest
    log_entries = raw_redis.xrange(f"{prefix}log")
    assert [(f["kind"], f["comment_id"]) for _, f in log_entries] == [
        ("verdict", "r1"),
        ("verdict", "v1"),
        ("moderator", "v1"),
    ]
    assert log_entries[0][0] == rejected["log_id"]
    assert raw_redis.zcard(f"{prefix}review:queue") == 0
    minute_keys = sorted(raw_redis.scan_iter(match=f"{prefix}count:m:*"))
    assert {k.split(":", 4)[4] for k in minute_keys} == {
        "verdict:accept",
        "verdict:review",
        "verdict:reject",
        "cache:miss",
        "clause:obscene",
        "clause:personal",
        "decision:approve",
    }
    assert all(3600 < raw_redis.ttl(k) <= 7200 for k in minute_keys)


async def test_a_review_waits_in_the_queue_without_expiring(
    redis_url: str, keys: Keys, raw_redis: redis.Redis
) -> None:
    store = RedisStore.from_url(redis_url, prefix=keys.prefix)
    try:
        await DecisionLog(store, max_entries=10_000, retention_s=3600, clock=lambda: 1_717_000_000.5).record(
            [Comment(id="v1", text="Well darn you")], [_verdict("v1", "review")]
        )
    finally:
        await store.aclose()
    assert raw_redis.ttl(f"{keys.prefix}comment:v1") == -1
    assert raw_redis.zrange(f"{keys.prefix}review:queue", 0, -1, withscores=True) == [
        ("v1", 1_717_000_000_500)
    ]
