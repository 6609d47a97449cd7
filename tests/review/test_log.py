"""The decision log's storage (streams, counters, queue, hashes) in both stores, and DecisionLog on top.

The store-level tests run against the in-memory store and a real Redis alike, so that the two behave the
same where callers can tell.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from service.moderation.types import Comment, Profanity, Reason, Verdict, WordMatch
from service.review.log import DecisionLog
from service.review.models import CommentNotFound, DecisionConflict
from service.store import Keys, MemoryStore, RedisStore, Store

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    s = RedisStore.from_url(redis_url)
    yield s
    await s.aclose()


async def test_log_is_read_newest_first_with_an_exclusive_cursor(store: Store, keys: Keys) -> None:
    stream = keys.decision_log()
    ids = [await store.log_append(stream, {"n": str(i)}, max_len=1000, min_id_ms=0) for i in range(7)]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    first = await store.log_range(stream, max_id="+", min_id="-", count=3)
    assert [e.fields["n"] for e in first] == ["6", "5", "4"]
    second = await store.log_range(stream, max_id=f"({first[-1].id}", min_id="-", count=3)
    assert [e.fields["n"] for e in second] == ["3", "2", "1"]
    last = await store.log_range(stream, max_id=f"({second[-1].id}", min_id="-", count=3)
    assert [e.fields["n"] for e in last] == ["0"]
    assert await store.log_length(stream) == 7
    # A lower bound, inclusive: from the fourth entry on.
    tail = await store.log_range(stream, max_id="+", min_id=ids[3], count=10)
    assert [e.fields["n"] for e in tail] == ["6", "5", "4", "3"]


async def test_log_is_capped_by_length(store: Store, keys: Keys) -> None:
    stream = keys.decision_log()
    for i in range(450):
        await store.log_append(stream, {"n": str(i)}, max_len=100, min_id_ms=0)
    length = await store.log_length(stream)
    # Redis trims approximately (whole nodes of 100 entries), the memory store exactly.
    assert 100 <= length < 450
    newest = await store.log_range(stream, max_id="+", min_id="-", count=1)
    assert newest[0].fields["n"] == "449"


async def test_log_is_trimmed_by_age(store: Store, keys: Keys) -> None:
    stream = keys.decision_log()
    for i in range(250):
        await store.log_append(stream, {"n": str(i)}, max_len=10_000, min_id_ms=0)
    # Everything before "far in the future" is past the retention: only what Redis' `~` keeps survives.
    await store.log_append(stream, {"n": "last"}, max_len=10_000, min_id_ms=2**41)
    assert await store.log_length(stream) < 150


async def test_counters_count_and_expire(store: Store, keys: Keys, raw_redis: redis.Redis) -> None:
    a, b, never = (keys.counter("m", 1, "verdict", v) for v in ("accept", "reject", "review"))
    await store.counters_incr([a, b, a], 120)
    await store.counters_incr([a], 120)
    assert await store.counters_get([a, b, never]) == [3, 1, 0]
    if isinstance(store, RedisStore):
        assert 100 < raw_redis.ttl(a) <= 120


async def test_queue_is_oldest_first_and_removal_happens_once(store: Store, keys: Keys) -> None:
    q = keys.review_queue()
    await store.queue_add(q, "late", 300)
    await store.queue_add(q, "early", 100)
    await store.queue_add(q, "middle", 200)
    assert await store.queue_page(q, 0, 10) == ["early", "middle", "late"]
    assert await store.queue_page(q, 1, 1) == ["middle"]
    assert await store.queue_size(q) == 3
    assert await store.queue_remove(q, "middle") is True
    assert await store.queue_remove(q, "middle") is False
    assert await store.queue_page(q, 0, 10) == ["early", "late"]


async def test_hashes_merge_fields_and_take_a_ttl(store: Store, keys: Keys, raw_redis: redis.Redis) -> None:
    k = keys.comment("c-1")
    assert await store.hash_get(k) is None
    await store.hash_set(k, {"status": "pending_review", "text": "ü"}, None)
    await store.hash_set(k, {"status": "approved"}, 60)
    assert await store.hash_get(k) == {"status": "approved", "text": "ü"}
    assert await store.hashes_get([k, keys.comment("nope")]) == [{"status": "approved", "text": "ü"}, None]
    if isinstance(store, RedisStore):
        assert 50 < raw_redis.ttl(k) <= 60
        await store.hash_set(k, {"status": "pending_review"}, None)
        assert raw_redis.ttl(k) == -1


# -- DecisionLog on a real Redis --------------------------------------------------------------------------


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


@pytest.fixture
async def decision_log(redis_url: str, keys: Keys) -> AsyncIterator[DecisionLog]:
    store = RedisStore.from_url(redis_url)
    sent: list[dict] = []
    log = DecisionLog(store, keys, max_entries=10_000, retention_s=3600, on_final=sent.append)
    log.sent = sent  # type: ignore[attr-defined]
    yield log
    await store.aclose()


async def test_record_logs_rejections_and_reviews_in_full_and_counts_acceptances(
    decision_log: DecisionLog, redis_url: str, keys: Keys
) -> None:
    comments = [
        Comment(id="r1", text="What darn nonsense", article_id="a-1", author_id="u-1"),
        Comment(id="v1", text="Well darn you", article_id="a-2"),
        Comment(id="ok1", text="Lovely piece", article_id="a-1"),
    ]
    await decision_log.record(
        comments, [_verdict("r1", "reject"), _verdict("v1", "review"), _verdict("ok1", "accept")]
    )

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

    # A restart (a new store and log on the same Redis) loses nothing already logged.
    store2 = RedisStore.from_url(redis_url)
    try:
        again = DecisionLog(store2, keys, max_entries=10_000, retention_s=3600)
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
