"""DecisionLog.appeal and .statement (issue 14) on both stores: the window on the log's clock, the once-only
rule under concurrency, and an appeal whose log entry the log has already trimmed."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from service.moderation.types import Comment, Profanity, Reason, Verdict, WordMatch
from service.review.log import DecisionLog
from service.review.models import AppealRefused, CommentNotFound
from service.store import MemoryStore, RedisStore, Store
from tests.support.fakes import FakeClock

pytestmark = pytest.mark.anyio

DAY_S = 86_400


def _reject(comment_id: str) -> Verdict:
    match = WordMatch(term="darn", tier="reject", clause="obscene", start=5, end=9, text="darn")
    reason = Reason(
        code="wordlist_match",
        clause="obscene",
        source="wordlist",
        action="reject",
        term="darn",
        start=5,
        end=9,
    )
    return Verdict(
        id=comment_id,
        verdict="reject",
        reasons=[reason],
        profanity=Profanity(matches=[match]),
        notice="Not published: obscene words.",
        policy_version="p1",
        model="m:1",
    )


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore(max_entries=100)
        return
    redis_url, keys = request.getfixturevalue("redis_url"), request.getfixturevalue("keys")
    s = RedisStore.from_url(redis_url, prefix=keys.prefix)
    yield s
    await s.aclose()


async def _rejected(log: DecisionLog, comment_id: str) -> str:
    (outcome,) = await log.record([Comment(id=comment_id, text="What darn nonsense")], [_reject(comment_id)])
    assert outcome.verdict.appeal_token
    return outcome.verdict.appeal_token


async def test_the_window_runs_on_the_logs_clock_from_the_decision(store: Store) -> None:
    clock = FakeClock(start=1_800_000_000.0)
    log = DecisionLog(store, max_entries=10_000, retention_s=400 * DAY_S, clock=clock)
    early, late = await _rejected(log, "c-1"), await _rejected(log, "c-2")
    clock.advance(183 * DAY_S)
    appealed = await log.appeal("c-1", early, "a quote", window_s=183 * DAY_S)
    assert appealed.status == "pending_review" and appealed.appeal is not None
    assert appealed.appeal.explanation == "a quote"
    clock.advance(0.001)
    with pytest.raises(AppealRefused) as refused:
        await log.appeal("c-2", late, "a quote", window_s=183 * DAY_S)
    assert refused.value.reason == "window_passed"
    assert (await log.status("c-2")).status == "rejected"
    # The statement says the same: its deadline passed, nothing to appeal any more.
    statement = await log.statement("c-2", late, window_s=183 * DAY_S)
    assert statement.redress.appealable is False and statement.redress.how == "The time to appeal has passed."


async def test_of_two_appeals_at_once_exactly_one_is_made(store: Store) -> None:
    log = DecisionLog(store, max_entries=10_000, retention_s=3600)
    token = await _rejected(log, "c-3")
    outcomes: list[str] = []

    async def appeal(explanation: str) -> None:
        try:
            await log.appeal("c-3", token, explanation, window_s=3600)
            outcomes.append("made")
        except AppealRefused as exc:
            outcomes.append(exc.reason)

    async with anyio.create_task_group() as group:
        for n in range(4):
            group.start_soon(appeal, f"explanation {n}")
    assert outcomes.count("made") == 1, outcomes
    assert set(outcomes) - {"made"} <= {"already_appealed", "status_changed"}
    (item,) = await log.queue()
    assert item.comment_id == "c-3" and item.record.appeal


async def test_an_appeal_whose_log_entry_was_trimmed_shows_the_verdict_kept_in_the_status() -> None:
    log = DecisionLog(MemoryStore(max_entries=100), max_entries=2, retention_s=3600)
    token = await _rejected(log, "old")
    for n in range(3):
        await _rejected(log, f"newer-{n}")
    assert "old" not in [r.comment_id for r in (await log.entries()).records]
    await log.appeal("old", token, "please", window_s=3600)
    (item,) = await log.queue()
    assert (item.record.comment_id, item.record.appeal, item.record.appeal_explanation) == (
        "old",
        True,
        "please",
    )
    assert item.record.text == ""  # the text went with the log entry; the reasons are the status' own
    assert [(r.term, r.clause) for r in item.record.reasons] == [("darn", "obscene")]
    assert item.record.notice == "Not published: obscene words." and item.record.policy_version == "p1"


async def test_a_wrong_token_or_an_accept_is_not_found(store: Store) -> None:
    log = DecisionLog(store, max_entries=10_000, retention_s=3600)
    token = await _rejected(log, "c-4")
    (accepted,) = await log.record(
        [Comment(id="ok", text="Lovely")],
        [Verdict(id="ok", verdict="accept", policy_version="p1", model="m:1")],
    )
    assert accepted.verdict.appeal_token is None
    for comment_id, given in (("c-4", token + "x"), ("c-4", ""), ("ok", token), ("nope", token)):
        with pytest.raises(CommentNotFound):
            await log.appeal(comment_id, given, "x", window_s=3600)
        with pytest.raises(CommentNotFound):
            await log.statement(comment_id, given, window_s=3600)


async def test_a_rescoring_run_leaves_a_pending_appeal_to_the_moderators(store: Store) -> None:
    log = DecisionLog(store, max_entries=10_000, retention_s=3600)
    token = await _rejected(log, "c-5")
    await log.appeal("c-5", token, "a quote", window_s=3600)
    accept = Verdict(id="c-5", verdict="accept", policy_version="p2", model="m:1")
    assert await log.rerecord([Comment(id="c-5", text="What darn nonsense")], [accept]) == 0
    assert (await log.status("c-5")).status == "pending_review"
    assert [i.comment_id for i in await log.queue()] == ["c-5"]
