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
    assert await decision_log.rerecord([Comment(id="e1", text="darn it")], [_verdict("e1", "accept")]) == 1
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
    common |= {"verdict_json", "text_digest", "status_token"}  # what the first writer's status keeps
    assert set(accepted) == common  # an accept has nothing to appeal (issue 14)
    assert set(rejected) == common | {"appeal_token"} and set(pending) == common | {"entry", "appeal_token"}
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


# -- a status belongs to its first writer --------------------------------------------------------------------


async def test_a_status_is_recorded_once_repeats_get_the_first_verdict_and_other_texts_conflict(
    decision_log: DecisionLog,
) -> None:
    [created] = await decision_log.record(
        [Comment(id="c1", text="Well darn you")], [_verdict("c1", "review")]
    )
    assert created.outcome == "created" and created.verdict.status_token
    # The same text again (a client's retry), judged otherwise meanwhile: the first verdict, its token too.
    [repeated] = await decision_log.record(
        [Comment(id="c1", text="Well darn you")], [_verdict("c1", "accept")]
    )
    assert repeated.outcome == "repeated" and repeated.verdict == created.verdict
    [conflict] = await decision_log.record([Comment(id="c1", text="Nice words")], [_verdict("c1", "accept")])
    assert conflict.outcome == "conflict" and conflict.verdict.status_token is None
    # Neither wrote anything: one log entry, one queued review, one verdict counted.
    assert [r.comment_id for r in (await decision_log.entries(kind=None)).records] == ["c1"]
    assert (await decision_log.status("c1")).status == "pending_review"
    assert (await decision_log.counts()).last_hour("verdict:accept") == 0


async def test_the_api_never_writes_over_a_moderators_decision(decision_log: DecisionLog) -> None:
    await decision_log.record([Comment(id="c1", text="Well darn you")], [_verdict("c1", "review")])
    await decision_log.decide("c1", "reject", "mod-ann")
    for text in ("Well darn you", "What a thoughtful article."):
        await decision_log.record([Comment(id="c1", text=text)], [_verdict("c1", "accept")])
        assert (await decision_log.status("c1")).status == "rejected_by_moderator"


async def test_rerecord_writes_over_the_services_statuses_only(decision_log: DecisionLog) -> None:
    comments = [Comment(id=i, text="darn") for i in ("pending", "decided", "accepted")]
    await decision_log.record(
        comments,
        [_verdict("pending", "review"), _verdict("decided", "review"), _verdict("accepted", "accept")],
    )
    token = (await decision_log.store.get_status("accepted") or {})["status_token"]
    await decision_log.decide("decided", "approve", "mod-ann")
    new = [_verdict(c.id or "", "reject") for c in comments] + [_verdict("expired", "reject")]
    assert await decision_log.rerecord([*comments, Comment(id="expired", text="darn")], new) == 2
    statuses = [(await decision_log.status(i)).status for i in ("pending", "decided", "accepted")]
    assert statuses == ["rejected", "approved", "rejected"]
    assert await decision_log.store.get_status("expired") is None  # nothing created
    assert await decision_log.queue() == [] and await decision_log.queue_size() == 0
    # The first writer's token still reads the status.
    assert (await decision_log.public_status("accepted", token)).status == "rejected"


async def test_the_public_status_needs_the_comments_own_token(decision_log: DecisionLog) -> None:
    outcomes = await decision_log.record(
        [Comment(id="a", text="fine"), Comment(id="b", text="fine too")],
        [_verdict("a", "accept"), _verdict("b", "accept")],
    )
    token_a, token_b = (o.verdict.status_token or "" for o in outcomes)
    assert len(token_a) >= 22 and token_a != token_b  # 128 random bits each, URL-safe
    assert (await decision_log.public_status("a", token_a)).status == "accepted"
    for comment_id, token in (
        ("a", token_b),
        ("a", ""),
        ("a", token_a + "x"),
        ("a", "ü\u202e"),
        ("zz", token_a),
    ):
        with pytest.raises(CommentNotFound):
            await decision_log.public_status(comment_id, token)


# -- bounds: the text a log entry keeps, the review queue and its overflow -----------------------------------


async def test_a_log_entry_keeps_the_first_characters_and_says_how_many_it_cut(store: Store) -> None:
    log = DecisionLog(store, max_entries=10_000, retention_s=3600, max_text_chars=10)
    await log.record(
        [Comment(id="long", text="darn " * 10), Comment(id="short", text="darn")],
        [_verdict("long", "review"), _verdict("short", "review")],
    )
    short, long = (await log.entries(kind=None)).records
    assert (long.text, long.text_omitted) == ("darn darn ", 40)
    assert (short.text, short.text_omitted) == ("darn", 0)
    assert [(i.comment_id, i.record.text_omitted) for i in await log.queue()] == [("long", 40), ("short", 0)]


async def test_past_its_cap_the_queue_moves_its_oldest_to_the_overflow_and_the_overflow_counts_its_losses(
    store: Store,
) -> None:
    clock = iter(range(1_717_000_000, 1_717_001_000))
    log = DecisionLog(
        store,
        max_entries=10_000,
        retention_s=3600,
        queue_limit=2,
        overflow_limit=2,
        clock=lambda: next(clock),
    )
    for i in range(6):
        await log.record([Comment(id=f"q{i}", text=f"darn {i}")], [_verdict(f"q{i}", "review")])
    # The newest two wait in the queue, the two before them in the overflow; the first two were lost.
    items = await log.queue()
    assert [(i.comment_id, i.overflow) for i in items] == [
        ("q4", False),
        ("q5", False),
        ("q2", True),
        ("q3", True),
    ]
    assert (await log.queue_size(), await log.overflow_size(), await log.overflow_lost()) == (4, 2, 2)
    assert [i.comment_id for i in await log.queue(offset=3, count=5)] == ["q3"]
    counts = await log.counts()
    assert (counts.last_day("queue:overflowed"), counts.last_day("queue:lost")) == (4, 2)
    # A lost review is never published, still decidable by id, and now expires with the retention.
    lost = await store.get_status("q0")
    assert lost is not None and (lost["status"], lost["queue"], lost["entry"]) == (
        "pending_review",
        "lost",
        "",
    )
    assert (await log.decide("q0", "approve", "mod-ann")).status == "approved"
    # One in the overflow is decided as one in the queue is.
    assert (await log.decide("q2", "reject", "mod-ann")).status == "rejected_by_moderator"
    assert [i.comment_id for i in await log.queue()] == ["q4", "q5", "q3"]


async def test_a_review_lost_from_the_overflow_expires_in_redis(
    redis_url: str, keys: Keys, raw_redis: redis.Redis
) -> None:
    store = RedisStore.from_url(redis_url, prefix=keys.prefix)
    log = DecisionLog(store, max_entries=10_000, retention_s=3600, queue_limit=1, overflow_limit=0)
    try:
        for i in range(2):
            await log.record([Comment(id=f"q{i}", text="darn")], [_verdict(f"q{i}", "review")])
    finally:
        await store.aclose()
    assert raw_redis.ttl(keys.comment("q1")) == -1  # waiting in the queue: no expiry
    assert 3500 < raw_redis.ttl(keys.comment("q0")) <= 3600
    assert raw_redis.get(keys.review_lost()) == "1"


class _RacedStore(MemoryStore):
    """A test double: right after a status is read, another moderator decides the comment (once)."""

    def __init__(self) -> None:
        super().__init__()
        self.race: tuple[str, dict[str, str]] | None = None

    async def get_status(self, comment_id: str) -> dict[str, str] | None:
        fields = await super().get_status(comment_id)
        if self.race is not None and self.race[0] == comment_id:
            _, update = self.race
            self.race = None
            await super().set_status(comment_id, update, ttl_s=3600)
        return fields


async def test_a_decision_made_on_a_status_that_changed_meanwhile_is_refused() -> None:
    store = _RacedStore()
    sent: list[dict] = []
    log = DecisionLog(store, max_entries=100, retention_s=3600, on_final=sent.append)
    await log.record([Comment(id="r1", text="What darn nonsense")], [_verdict("r1", "reject")])
    store.race = ("r1", {"status": "rejected_by_moderator", "decided_by": "mod-bob"})
    # mod-ann read "rejected" and means "publish it"; mod-bob's decision came first and stands.
    with pytest.raises(DecisionConflict) as refused:
        await log.overturn("r1", "mod-ann")
    assert refused.value.status == "rejected_by_moderator"
    assert (await log.status("r1")).decided_by == "mod-bob"
    assert sent == [] and (await log.entries(kind="moderator")).records == []
