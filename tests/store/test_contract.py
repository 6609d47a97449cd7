"""One behavioural suite for both stores: what a caller can tell, the memory store and a real Redis alike.

Each test runs twice, on a MemoryStore driven by a FakeClock and on a RedisStore under the test's own key
prefix of the shared test server. Time passes through `elapse`: the fake clock moves for memory, the test
really waits for Redis (TTLs here are a second or two, so that stays short). What only one store does
(Redis' backoff and outages, the memory store's bounds on what it may forget) lives in test_redis_store.py
and test_memory_store.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from unittest.mock import ANY

import anyio
import pytest

from service.store import CounterName, LogCursor, MemoryStore, Store
from service.store.base import Count, DecisionWrite, QueuePlace, RecordWrite
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.anyio

VERDICT = {
    "verdict": "reject",
    "reasons": [{"clause": "obscene", "score": 0.93}],
    "notice": "Attaques personnelles — interdites",
    "cached": False,
}
DIGEST = "f07e3659589d16f6ddcd1b123fb2db00ac57569fb831bd983dd3d555883a02ae"
ANY_STATUS = ANY
MEMORY_BOUND = 3  # the memory store's max_entries here: small, so that tests can go past it


@dataclass
class Subject:
    store: Store
    elapse: Callable[[float], Awaitable[None]]


@pytest.fixture(params=["memory", "redis"])
def subject(request: pytest.FixtureRequest, clock: FakeClock) -> Subject:
    if request.param == "redis":
        return Subject(request.getfixturevalue("redis_store"), anyio.sleep)

    async def advance(seconds: float) -> None:
        clock.advance(seconds)

    return Subject(MemoryStore(max_entries=MEMORY_BOUND, clock=clock), advance)


@pytest.fixture
def store(subject: Subject) -> Store:
    return subject.store


async def _append(store: Store, n: int, *, max_len: int = 10_000, min_ms: int = 0) -> list[LogCursor]:
    return [await store.append_log({"n": str(i)}, max_len=max_len, min_ms=min_ms) for i in range(n)]


def _ns(entries: list[Any]) -> list[str]:
    return [e.fields["n"] for e in entries]


# -- both are a Store ----------------------------------------------------------------------------------------


async def test_protocol_members(store: Store) -> None:
    assert isinstance(store, Store)
    assert store.kind in ("memory", "redis")
    assert await store.ping() is True
    assert store.describe()


# -- the verdict cache ---------------------------------------------------------------------------------------


async def test_cache_miss_then_hit(store: Store) -> None:
    assert await store.get_verdict(DIGEST) is None
    await store.set_verdict(DIGEST, VERDICT, ttl_s=60)
    assert await store.get_verdict(DIGEST) == VERDICT


async def test_cached_verdict_is_a_copy_either_way(store: Store) -> None:
    verdict: dict[str, Any] = {"verdict": "accept", "reasons": []}
    await store.set_verdict(DIGEST, verdict, ttl_s=60)
    verdict["reasons"].append("changed after set")
    first = await store.get_verdict(DIGEST)
    assert first == {"verdict": "accept", "reasons": []}
    assert first is not None
    first["verdict"] = "changed after get"
    assert await store.get_verdict(DIGEST) == {"verdict": "accept", "reasons": []}


async def test_cache_ttl_is_honoured_and_setting_again_replaces_value_and_ttl(subject: Subject) -> None:
    store = subject.store
    await store.set_verdict(DIGEST, VERDICT, ttl_s=1)
    await store.set_verdict("other", VERDICT, ttl_s=1)
    await store.set_verdict("other", {"verdict": "accept"}, ttl_s=60)
    await subject.elapse(1.2)
    assert await store.get_verdict(DIGEST) is None
    assert await store.get_verdict("other") == {"verdict": "accept"}


@pytest.mark.parametrize("ttl_s", [0, -1, 1.5, True])
async def test_ttl_below_one_whole_second_is_refused_as_redis_would(store: Store, ttl_s: object) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await store.set_verdict(DIGEST, VERDICT, ttl_s=ttl_s)  # type: ignore[arg-type]
    assert await store.get_verdict(DIGEST) is None


async def test_values_redis_could_not_hold_are_refused(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.set_verdict(DIGEST, {"when": object()}, ttl_s=60)
    with pytest.raises(ValueError):
        await store.set_verdict(DIGEST, {"score": float("nan")}, ttl_s=60)
    assert await store.get_verdict(DIGEST) is None


@pytest.mark.parametrize("digest", ["", "a b", "tab\there"])
async def test_a_digest_that_could_not_be_a_key_is_refused(store: Store, digest: str) -> None:
    with pytest.raises(ValueError, match="digest"):
        await store.set_verdict(digest, VERDICT, ttl_s=60)
    with pytest.raises(ValueError, match="digest"):
        await store.get_verdict(digest)


# -- the decision log ----------------------------------------------------------------------------------------


async def test_log_is_read_newest_first_with_an_exclusive_cursor(store: Store) -> None:
    ids = await _append(store, 7)
    assert ids == sorted(ids) and len(set(ids)) == 7  # positions only grow
    first = await store.read_log(count=3)
    assert _ns(first) == ["6", "5", "4"]
    assert [e.id for e in first] == ids[6:3:-1]
    second = await store.read_log(count=3, before=first[-1].id)
    assert _ns(second) == ["3", "2", "1"]
    last = await store.read_log(count=3, before=second[-1].id)
    assert _ns(last) == ["0"]
    assert await store.read_log(count=3, before=last[-1].id) == []
    assert await store.log_length() == 7
    # A cursor read back from its text form is the same position.
    assert _ns(await store.read_log(count=2, before=LogCursor.parse(str(ids[2])))) == ["1", "0"]


async def test_log_reads_of_nothing_are_empty_not_errors(store: Store) -> None:
    assert await store.read_log(count=5) == []
    assert await store.log_length() == 0
    await _append(store, 2)
    # Before the first possible position, before 1970, or no entries asked for.
    assert await store.read_log(count=5, before=LogCursor(0, 0)) == []
    assert await store.read_log(count=5, until_ms=-1) == []
    assert await store.read_log(count=0) == []
    assert _ns(await store.read_log(count=5, since_ms=-(10**6))) == ["1", "0"]


async def test_log_time_bounds_are_inclusive_and_hold_together_with_the_cursor(store: Store) -> None:
    ids: list[LogCursor] = []
    for _ in range(3):  # at least three distinct milliseconds, with two entries in each
        ids += await _append(store, 2)
        await anyio.sleep(0.003)
    ids += await _append(store, 2)
    middle = ids[3].ms

    async def read(**bounds: Any) -> list[LogCursor]:
        return [e.id for e in await store.read_log(count=100, **bounds)]

    def newest_first(keep: Callable[[LogCursor], bool]) -> list[LogCursor]:
        return [i for i in reversed(ids) if keep(i)]

    assert await read(since_ms=middle) == newest_first(lambda i: i.ms >= middle)
    assert await read(until_ms=middle) == newest_first(lambda i: i.ms <= middle)
    assert await read(since_ms=middle, until_ms=middle) == newest_first(lambda i: i.ms == middle)
    # `before` and `until_ms` both bound the newest end: whichever is older wins.
    assert await read(before=ids[-1], until_ms=middle) == newest_first(lambda i: i.ms <= middle)
    assert await read(before=ids[1], until_ms=ids[-1].ms) == [ids[0]]
    # A bare millisecond as a cursor stands for the last position of that millisecond.
    assert await read(before=LogCursor.parse(str(middle))) == newest_first(lambda i: i.ms <= middle)


async def test_log_is_capped_by_length(store: Store) -> None:
    for i in range(450):
        await store.append_log({"n": str(i)}, max_len=100, min_ms=0)
    # Redis trims approximately (whole nodes of 100 entries), the memory store exactly.
    assert 100 <= await store.log_length() < 450
    assert _ns(await store.read_log(count=1)) == ["449"]


async def test_log_is_trimmed_by_age(store: Store) -> None:
    await _append(store, 250)
    # Everything before "far in the future" is past the retention: only what Redis' `~` keeps survives.
    await store.append_log({"n": "last"}, max_len=10_000, min_ms=2**41)
    assert await store.log_length() < 150


async def test_log_fields_come_back_as_written(store: Store) -> None:
    fields = {"text": "Attaques personnelles — interdites ü", "empty": "", "json": '{"a":[1,2]}'}
    position = await store.append_log(fields, max_len=100, min_ms=0)
    [entry] = await store.read_log(count=5)
    assert entry.id == position and entry.fields == fields


# -- statuses ------------------------------------------------------------------------------------------------


async def test_statuses_merge_fields_and_take_a_ttl(subject: Subject) -> None:
    store = subject.store
    assert await store.get_status("c-1") is None
    await store.set_status("c-1", {"status": "pending_review", "text": "ü"}, ttl_s=None)
    await store.set_status("c-1", {"status": "approved"}, ttl_s=1)
    assert await store.get_status("c-1") == {"status": "approved", "text": "ü"}
    assert await store.get_statuses(["c-1", "nope"]) == [{"status": "approved", "text": "ü"}, None]
    assert await store.get_statuses([]) == []
    await store.set_status("c-2", {"status": "pending_review"}, ttl_s=1)
    await store.set_status("c-2", {"status": "pending_review"}, ttl_s=None)  # no expiry any more
    await subject.elapse(1.2)
    assert await store.get_statuses(["c-1", "c-2"]) == [None, {"status": "pending_review"}]


async def test_pending_reviews_and_decisions_are_never_evicted_even_past_the_memory_bound(
    store: Store,
) -> None:
    await store.set_status("pending", {"status": "pending_review"}, ttl_s=None)
    await store.set_status("decided", {"status": "approved"}, ttl_s=3600)
    await store.set_status("claimed-then-evictable", {"status": "pending_review"}, ttl_s=None, evictable=True)
    for i in range(4 * MEMORY_BOUND):
        await store.set_status(f"accepted-{i}", {"status": "accepted"}, ttl_s=3600, evictable=True)
    assert await store.get_statuses(["pending", "decided", "claimed-then-evictable"]) == [
        {"status": "pending_review"},
        {"status": "approved"},
        {"status": "pending_review"},  # without an expiry a status waits for a moderator, whatever was said
    ]
    newest = f"accepted-{4 * MEMORY_BOUND - 1}"
    assert await store.get_status(newest) == {"status": "accepted"}


@pytest.mark.parametrize("comment_id", ["", None])
async def test_an_empty_comment_id_is_refused(store: Store, comment_id: Any) -> None:
    with pytest.raises(ValueError, match="comment id"):
        await store.set_status(comment_id, {"status": "accepted"}, ttl_s=60)
    with pytest.raises(ValueError, match="comment id"):
        await store.get_statuses(["ok", comment_id])
    with pytest.raises(ValueError, match="comment id"):
        await store.enqueue_review(comment_id, 1)


async def test_a_status_or_log_entry_without_fields_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="field"):
        await store.set_status("c-1", {}, ttl_s=60)
    with pytest.raises(ValueError, match="field"):
        await store.append_log({}, max_len=10, min_ms=0)
    assert await store.get_status("c-1") is None
    assert await store.log_length() == 0


async def test_a_status_is_claimed_once_and_the_loser_sees_the_winners(subject: Subject) -> None:
    store = subject.store
    assert await store.claim_status("c-1", {"status": "accepted", "who": "first"}, ttl_s=1) is None
    found = await store.claim_status("c-1", {"status": "rejected", "who": "second"}, ttl_s=None)
    assert found == {"status": "accepted", "who": "first"}
    assert await store.get_status("c-1") == {"status": "accepted", "who": "first"}  # untouched
    # The claim's TTL holds; once the status has expired, the id is free again.
    await subject.elapse(1.2)
    assert await store.claim_status("c-1", {"status": "pending_review"}, ttl_s=None) is None
    await subject.elapse(1.2)
    assert await store.get_status("c-1") == {"status": "pending_review"}  # no TTL: it stays


async def test_of_concurrent_claimers_of_a_status_exactly_one_creates_it(store: Store) -> None:
    winners: list[int] = []

    async def claim(n: int) -> None:
        if await store.claim_status("contested", {"status": "accepted", "n": str(n)}, ttl_s=60) is None:
            winners.append(n)

    async with anyio.create_task_group() as tasks:
        for n in range(10):
            tasks.start_soon(claim, n)
    assert len(winners) == 1
    assert await store.get_status("contested") == {"status": "accepted", "n": str(winners[0])}


async def test_a_conditional_set_writes_only_over_the_statuses_named(subject: Subject) -> None:
    store = subject.store
    allowed = ("accepted", "rejected", "pending_review")
    assert await store.set_status("gone", {"status": "rejected"}, ttl_s=60, if_status_in=allowed) is False
    assert await store.get_status("gone") is None  # a missing status is none of them: nothing created
    await store.set_status("mine", {"status": "accepted", "keep": "x"}, ttl_s=60)
    await store.set_status("decided", {"status": "approved"}, ttl_s=60)
    assert await store.set_status("mine", {"status": "pending_review"}, ttl_s=None, if_status_in=allowed)
    assert not await store.set_status("decided", {"status": "rejected"}, ttl_s=60, if_status_in=allowed)
    assert await store.get_statuses(["mine", "decided"]) == [
        {"status": "pending_review", "keep": "x"},
        {"status": "approved"},
    ]
    # The TTL is the one given with the write that happened: None made "mine" permanent.
    await store.set_status("short", {"status": "accepted"}, ttl_s=60)
    assert await store.set_status("short", {"n": "1"}, ttl_s=1, if_status_in=("accepted",))
    await subject.elapse(1.2)
    assert await store.get_statuses(["mine", "short"]) == [{"status": "pending_review", "keep": "x"}, None]
    assert await store.set_status("plain", {"status": "accepted"}, ttl_s=60) is True


async def test_of_concurrent_conditional_writers_exactly_one_wins(store: Store) -> None:
    await store.set_status("c-1", {"status": "rejected"}, ttl_s=60)
    wins: list[int] = []

    async def overturn(n: int) -> None:
        update = {"status": "approved", "by": str(n)}
        if await store.set_status("c-1", update, ttl_s=60, if_status_in=("rejected",)):
            wins.append(n)

    async with anyio.create_task_group() as tasks:
        for n in range(10):
            tasks.start_soon(overturn, n)
    assert len(wins) == 1
    assert await store.get_status("c-1") == {"status": "approved", "by": str(wins[0])}


# -- the review queue ----------------------------------------------------------------------------------------


async def test_queue_is_oldest_first_and_claims_happen_once(store: Store) -> None:
    await store.enqueue_review("late", 300)
    await store.enqueue_review("early", 100)
    await store.enqueue_review("middle", 200)
    await store.enqueue_review("also-early", 100)  # ties are ordered by id
    assert await store.review_page(0, 10) == ["also-early", "early", "middle", "late"]
    assert await store.review_page(2, 1) == ["middle"]
    assert await store.review_page(0, 0) == []
    assert await store.review_count() == 4
    assert await store.claim_review("middle") is True
    assert await store.claim_review("middle") is False
    assert await store.claim_review("never-queued") is False
    await store.enqueue_review("early", 400)  # again: moves it
    assert await store.review_page(0, 10) == ["also-early", "late", "early"]


async def test_a_full_queue_moves_its_oldest_to_the_overflow_and_counts_what_the_overflow_loses(
    store: Store,
) -> None:
    spills = [await store.enqueue_review(f"c{i}", 100 + i, limit=3, overflow_limit=2) for i in range(7)]
    assert [s.moved for s in spills] == [0, 0, 0, 1, 1, 1, 1]
    assert [s.lost for s in spills] == [(), (), (), (), (), ("c0",), ("c1",)]
    assert await store.review_page(0, 10) == ["c4", "c5", "c6"]
    assert await store.review_page(0, 10, overflow=True) == ["c2", "c3"]
    assert (await store.review_count(), await store.review_count(overflow=True)) == (3, 2)
    assert await store.review_lost() == 2
    # A comment in the overflow can be claimed from there, once.
    assert await store.claim_review("c2") is True
    assert await store.claim_review("c2") is False
    assert await store.review_page(0, 10, overflow=True) == ["c3"]
    # Entering again takes it out of the overflow, into the queue (whose oldest moves out in its place).
    spill = await store.enqueue_review("c3", 200, limit=3, overflow_limit=2)
    assert spill.moved == 1 and spill.lost == ()
    assert await store.review_page(0, 10) == ["c5", "c6", "c3"]
    assert await store.review_page(0, 10, overflow=True) == ["c4"]
    # Without a limit nothing moves (and nothing is lost), however long the queue.
    assert await store.enqueue_review("c9", 300) == (0, ())
    assert await store.review_count() == 4


async def test_an_overflow_of_zero_loses_everything_the_queue_moves_out(store: Store) -> None:
    for i in range(3):
        await store.enqueue_review(f"c{i}", i, limit=1, overflow_limit=0)
    assert await store.review_page(0, 5) == ["c2"]
    assert await store.review_count(overflow=True) == 0
    assert await store.review_lost() == 2


async def test_of_concurrent_claimers_exactly_one_wins(store: Store) -> None:
    for i in range(5):
        await store.enqueue_review(f"c{i}", i)
    wins: list[str] = []

    async def claim(comment_id: str) -> None:
        if await store.claim_review(comment_id):
            wins.append(comment_id)

    async with anyio.create_task_group() as tasks:
        for _ in range(8):
            for i in range(5):
                tasks.start_soon(claim, f"c{i}")
    assert sorted(wins) == [f"c{i}" for i in range(5)]
    assert await store.review_count() == 0


# -- counters ------------------------------------------------------------------------------------------------


async def test_counters_count_and_expire_from_their_creation(subject: Subject) -> None:
    store = subject.store
    a, b, never = (CounterName("m", 1, "verdict", v) for v in ("accept", "reject", "review"))
    hour_a = CounterName("h", 1, "verdict", "accept")
    await store.add_counts([a, b, a], 1)
    await store.add_counts([a, hour_a], 1)
    assert await store.read_counts([a, b, never, hour_a]) == [3, 1, 0, 1]
    assert await store.read_counts([]) == []
    await store.add_counts([], 1)
    await subject.elapse(0.6)
    await store.add_counts([a], 1)  # counting again does not push the expiry back
    await subject.elapse(0.6)
    assert await store.read_counts([a, b]) == [0, 0]
    await store.add_counts([a], 1)  # after expiring, a counter starts again from nothing
    assert await store.read_counts([a]) == [1]


# -- one object for both ---------------------------------------------------------------------------------


async def test_the_cache_and_the_log_share_one_store_without_colliding(store: Store) -> None:
    # A comment id and a digest that are the same string name different things.
    await store.set_verdict("same", VERDICT, ttl_s=60)
    await store.set_status("same", {"status": "accepted"}, ttl_s=60)
    await store.enqueue_review("same", 1)
    assert await store.get_verdict("same") == VERDICT
    assert await store.get_status("same") == {"status": "accepted"}
    assert await store.review_page(0, 5) == ["same"]
    assert await store.review_page(0, 5, overflow=True) == [] and await store.review_lost() == 0


# -- whole records and decisions, each one step (issue 12) ---------------------------------------------------


def _minute(value: str, dimension: str = "verdict") -> Count:
    return (CounterName("m", 7, dimension, value), 60)


def _review(comment_id: str, ms: int, *, limit: int | None = None, overflow_limit: int = 0) -> RecordWrite:
    return RecordWrite(
        comment_id,
        {"status": "pending_review", "verdict": "review", "log_id": ""},
        ttl_s=None,
        evictable=False,
        log_entry={"kind": "verdict", "comment_id": comment_id, "text": "ü darn"},
        log_max_len=100,
        log_min_ms=0,
        entry_json='{"text":"ü darn"}',
        queue=QueuePlace(
            ms,
            limit,
            overflow_limit,
            lost_ttl_s=1,
            overflowed=(_minute("overflowed", "queue"),),
            lost=(_minute("lost", "queue"),),
        ),
        counts=(_minute("review"),),
    )


async def test_many_verdicts_are_read_and_written_at_once(subject: Subject) -> None:
    store = subject.store
    assert await store.get_verdicts([]) == [] and await store.set_verdicts([], ttl_s=60) is None
    await store.set_verdicts([("a", {"n": 1}), ("b", {"n": "ü"})], ttl_s=1)
    await store.set_verdict("c", {"n": 3}, ttl_s=60)
    assert await store.get_verdicts(["b", "missing", "a", "c"]) == [{"n": "ü"}, None, {"n": 1}, {"n": 3}]
    await subject.elapse(1.2)
    assert await store.get_verdicts(["a", "b", "c"]) == [None, None, {"n": 3}]
    with pytest.raises(ValueError):
        await store.set_verdicts([("d", {"n": 4}), ("e", {"bad": float("nan")})], ttl_s=60)
    assert await store.get_verdicts(["d", "e"]) == [None, None]  # a bad value refuses the whole batch


async def test_a_record_is_written_whole_status_log_queue_and_counts(subject: Subject) -> None:
    store = subject.store
    accepted = RecordWrite("ok", {"status": "accepted"}, ttl_s=1, evictable=True, counts=(_minute("accept"),))
    first, second = await store.write_records([_review("v1", 5), accepted])
    assert first.written and first.log_id is not None and first.spill == (0, ())
    assert second == (True, None, None, (0, ()))
    status = await store.get_status("v1")
    assert status == {
        "status": "pending_review",
        "verdict": "review",
        "log_id": str(first.log_id),
        "entry": '{"text":"ü darn"}',
    }
    (entry,) = await store.read_log(count=10)
    assert entry.id == first.log_id and entry.fields["text"] == "ü darn"
    assert await store.review_page(0, 10) == ["v1"]
    assert await store.read_counts([_minute("review")[0], _minute("accept")[0]]) == [1, 1]
    await subject.elapse(1.2)
    assert await store.get_statuses(["v1", "ok"]) == [status, None]  # a pending review has no expiry


async def test_a_record_claims_once_and_returns_the_status_found_untouched(store: Store) -> None:
    await store.write_records([_review("v1", 5)])
    found = await store.get_status("v1")
    again = RecordWrite("v1", {"status": "accepted"}, ttl_s=60, evictable=True, counts=(_minute("accept"),))
    (result,) = await store.write_records([again])
    assert (result.written, result.found, result.log_id) == (False, found, None)
    assert await store.get_status("v1") == found and await store.log_length() == 1
    assert await store.read_counts([_minute("accept")[0]]) == [0]


async def test_a_record_over_an_existing_status_only_over_those_named(store: Store) -> None:
    await store.write_records([_review("v1", 5)])
    rescored = RecordWrite(
        "v1",
        {"status": "accepted", "verdict": "accept"},
        ttl_s=60,
        evictable=True,
        if_status_in=("accepted", "pending_review"),
        unqueue=True,
    )
    refused = dataclasses.replace(rescored, comment_id="nobody")
    assert [r.written for r in await store.write_records([rescored, refused])] == [True, False]
    assert (await store.get_status("v1") or {})["status"] == "accepted"
    assert await store.review_page(0, 10) == [] and await store.get_status("nobody") is None
    decided = dataclasses.replace(rescored, if_status_in=("pending_review",))
    assert (await store.write_records([decided]))[0] == (False, None, None, (0, ()))


async def test_a_full_queue_spills_in_the_record_s_step_and_what_is_lost_expires(subject: Subject) -> None:
    store = subject.store
    results = await store.write_records([_review(f"q{i}", i, limit=1, overflow_limit=1) for i in range(3)])
    assert [r.spill for r in results] == [(0, ()), (1, ()), (1, ("q0",))]
    assert await store.review_page(0, 10) == ["q2"] and await store.review_page(0, 10, overflow=True) == [
        "q1"
    ]
    assert await store.review_lost() == 1
    lost = await store.get_status("q0")
    assert lost is not None and (lost["status"], lost["queue"], lost["entry"]) == (
        "pending_review",
        "lost",
        "",
    )
    assert await store.read_counts([_minute("overflowed", "queue")[0], _minute("lost", "queue")[0]]) == [2, 1]
    await subject.elapse(1.2)  # lost_ttl_s
    assert await store.get_statuses(["q0", "q1", "q2"]) == [None, ANY_STATUS, ANY_STATUS]


def _decision(expected: str, *, claim: bool = True) -> DecisionWrite:
    return DecisionWrite(
        "v1",
        expected,
        claim,
        {"status": "approved", "decided_by": "mod-ann"},
        ttl_s=1,
        log_entry={"kind": "moderator", "comment_id": "v1"},
        log_max_len=100,
        log_min_ms=0,
        counts=(_minute("approve", "decision"),),
    )


async def test_a_decision_is_applied_whole_once(subject: Subject) -> None:
    store = subject.store
    assert await store.apply_decision(_decision("pending_review")) == ("changed", None, None)
    await store.write_records([_review("v1", 5)])
    assert (await store.apply_decision(_decision("rejected"))).outcome == "changed"
    applied = await store.apply_decision(_decision("pending_review"))
    assert applied.outcome == "applied" and applied.log_id is not None
    assert (await store.get_status("v1") or {})["decided_by"] == "mod-ann"
    assert await store.review_page(0, 10) == [] and await store.log_length() == 2
    assert await store.read_counts([_minute("approve", "decision")[0]]) == [1]
    assert await store.apply_decision(_decision("pending_review")) == ("changed", "approved", None)
    await subject.elapse(1.2)  # a decision expires with its TTL (the retention)
    assert await store.get_status("v1") is None


async def test_a_decision_needs_the_review_still_waiting_unless_it_was_lost(store: Store) -> None:
    await store.write_records([_review("v1", 5)])
    assert await store.claim_review("v1")  # another moderator took it
    assert (await store.apply_decision(_decision("pending_review"))).outcome == "taken"
    assert (await store.get_status("v1") or {})[
        "status"
    ] == "pending_review" and await store.log_length() == 1
    await store.set_status("v1", {"queue": "lost"}, ttl_s=60)
    assert (await store.apply_decision(_decision("pending_review"))).outcome == "applied"
    # An overturn does not ask the queue.
    assert (await store.apply_decision(_decision("approved", claim=False))).outcome == "applied"


async def test_of_concurrent_deciders_exactly_one_applies(store: Store) -> None:
    await store.write_records([_review("v1", 5)])
    outcomes: list[str] = []

    async def decide() -> None:
        outcomes.append((await store.apply_decision(_decision("pending_review"))).outcome)

    async with anyio.create_task_group() as tasks:
        for _ in range(10):
            tasks.start_soon(decide)
    assert sorted(outcomes) == ["applied"] + ["changed"] * 9
    assert await store.log_length() == 2
