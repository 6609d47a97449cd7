"""The micro-batcher: order, flushing, length grouping, overload, failure isolation, cancellation."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from service.model.batcher import MicroBatcher, Overloaded
from tests.support.scorers import GatedScorer, MarkerScorer


def _echo(texts: Sequence[str]) -> list[dict[str, float]]:
    """Scores that say which text they belong to (its length), so a mix-up cannot go unnoticed."""
    return [{"length": float(len(t))} for t in texts]


async def _until(condition, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.002)


async def _entered(scorer: GatedScorer) -> None:
    await asyncio.to_thread(scorer.entered.wait, 5)
    assert scorer.entered.is_set()


def test_results_keep_request_order_and_requests_share_batches():
    calls: list[list[str]] = []
    lock = threading.Lock()

    def score(texts: Sequence[str]) -> list[dict[str, float]]:
        with lock:
            calls.append(list(texts))
        return _echo(texts)

    async def main() -> list[list[dict[str, float]]]:
        batcher = MicroBatcher(score, max_batch_size=64, max_wait_s=0.05, queue_max=100, retry_after_s=1)
        try:
            requests = [["x" * (7 - i), "y" * (i + 1)] for i in range(6)]
            return await asyncio.gather(*(batcher.score(r) for r in requests))
        finally:
            batcher.close()

    results = asyncio.run(main())
    assert results == [[{"length": 7.0 - i}, {"length": i + 1.0}] for i in range(6)]
    # All twelve comments arrived within the wait: one model call, sorted by length.
    assert len(calls) == 1 and len(calls[0]) == 12
    assert [len(t) for t in calls[0]] == sorted(len(t) for t in calls[0])


def test_a_partial_batch_is_flushed_after_max_wait():
    scorer = MarkerScorer()

    async def main() -> float:
        batcher = MicroBatcher(scorer.score, max_batch_size=8, max_wait_s=0.1, queue_max=100, retry_after_s=1)
        try:
            started = time.perf_counter()
            await batcher.score(["one", "two", "three"])
            return time.perf_counter() - started
        finally:
            batcher.close()

    elapsed = asyncio.run(main())
    assert scorer.calls == [["one", "two", "three"]]
    assert 0.09 <= elapsed < 2.0


def test_a_full_batch_does_not_wait():
    scorer = MarkerScorer()

    async def main() -> float:
        batcher = MicroBatcher(
            scorer.score, max_batch_size=4, max_wait_s=30.0, queue_max=100, retry_after_s=1
        )
        try:
            started = time.perf_counter()
            await batcher.score(["a", "b", "c", "d"])
            return time.perf_counter() - started
        finally:
            batcher.close()

    assert asyncio.run(main()) < 2.0  # far below max_wait: the batch was full
    assert scorer.calls == [["a", "b", "c", "d"]]


def test_a_backed_up_queue_is_grouped_by_length():
    scorer = GatedScorer()

    async def main() -> None:
        batcher = MicroBatcher(scorer.score, max_batch_size=3, max_wait_s=0.0, queue_max=100, retry_after_s=1)
        try:
            first = asyncio.ensure_future(batcher.score(["held"]))
            await _entered(scorer)
            lengths = [40, 2, 41, 3, 42, 1]
            rest = asyncio.gather(*(batcher.score(["w" * n]) for n in lengths))
            await _until(lambda: batcher.waiting == len(lengths))
            scorer.release.set()
            await first
            await rest
        finally:
            batcher.close()

    asyncio.run(main())
    assert [[len(t) for t in call] for call in scorer.calls[1:]] == [[1, 2, 3], [40, 41, 42]]


def test_past_the_queue_limit_requests_are_refused_whole():
    scorer = GatedScorer()

    async def main() -> None:
        batcher = MicroBatcher(scorer.score, max_batch_size=1, max_wait_s=0.0, queue_max=3, retry_after_s=7)
        try:
            running = asyncio.ensure_future(batcher.score(["running"]))
            await _entered(scorer)
            queued = asyncio.ensure_future(batcher.score(["q1", "q2"]))
            await _until(lambda: batcher.waiting == 2)
            with pytest.raises(Overloaded) as refused:
                await batcher.score(["r1", "r2"])  # 2 waiting + 2 > 3: none of them is queued
            assert refused.value.retry_after_s == 7 and refused.value.limit == 3
            assert "retry in 7 s" in str(refused.value)
            assert batcher.waiting == 2 and batcher.stats.overloaded == 1
            assert await batcher.score([]) == []
            fits = asyncio.ensure_future(batcher.score(["f1"]))  # 2 + 1 <= 3
            await _until(lambda: batcher.waiting == 3)
            scorer.release.set()
            await asyncio.gather(running, queued, fits)
        finally:
            batcher.close()

    asyncio.run(main())
    # The refused comments never reached the model; the admitted ones ran in queue order.
    assert [c for call in scorer.calls for c in call] == ["running", "q1", "q2", "f1"]


def test_an_empty_queue_takes_a_request_larger_than_the_limit():
    scorer = MarkerScorer()

    async def main() -> list[dict[str, float]]:
        batcher = MicroBatcher(scorer.score, max_batch_size=4, max_wait_s=0.0, queue_max=2, retry_after_s=1)
        try:
            return await batcher.score([f"t{i}" for i in range(5)])
        finally:
            batcher.close()

    assert len(asyncio.run(main())) == 5


def test_a_failed_batch_fails_its_own_requests_only():
    def score(texts: Sequence[str]) -> list[dict[str, float]]:
        if any(t.startswith("boom") for t in texts):
            raise RuntimeError("simulated inference failure")
        return _echo(texts)

    async def main() -> tuple[BaseException | list[dict[str, float]], ...]:
        batcher = MicroBatcher(score, max_batch_size=2, max_wait_s=0.05, queue_max=100, retry_after_s=1)
        try:
            # Sorted by length, the group splits into [boom1, boom2] and [fine text 1, fine text 2].
            outcome = await asyncio.gather(
                batcher.score(["boom1", "boom2"]),
                batcher.score(["fine text 1", "fine text 2"]),
                return_exceptions=True,
            )
            # The worker carries on after a failure.
            later = await batcher.score(["after"])
            assert batcher.stats.batch_failures == 1
            return (*outcome, later)
        finally:
            batcher.close()

    failed, fine, later = asyncio.run(main())
    assert isinstance(failed, RuntimeError) and "simulated" in str(failed)
    assert fine == [{"length": 11.0}, {"length": 11.0}]
    assert later == [{"length": 5.0}]


def test_a_wrong_result_count_fails_the_whole_batch():
    async def main() -> None:
        batcher = MicroBatcher(
            lambda texts: _echo(texts)[:-1], max_batch_size=8, max_wait_s=0.05, queue_max=100, retry_after_s=1
        )
        try:
            with pytest.raises(RuntimeError, match="2 score sets for 3 comments"):
                await batcher.score(["a", "b", "c"])
        finally:
            batcher.close()

    asyncio.run(main())


def test_comments_of_a_cancelled_request_are_dropped_before_scoring():
    scorer = GatedScorer()

    async def main() -> None:
        batcher = MicroBatcher(scorer.score, max_batch_size=4, max_wait_s=0.0, queue_max=100, retry_after_s=1)
        try:
            running = asyncio.ensure_future(batcher.score(["running"]))
            await _entered(scorer)
            gone = asyncio.ensure_future(batcher.score(["gone 1", "gone 2"]))
            staying = asyncio.ensure_future(batcher.score(["staying"]))
            await _until(lambda: batcher.waiting == 3)
            gone.cancel()  # the client went away while its comments waited
            scorer.release.set()
            await running
            assert await staying == [dict.fromkeys(scorer.categories, 0.01)]
            with pytest.raises(asyncio.CancelledError):
                await gone
            assert batcher.waiting == 0 and batcher.stats.dropped == 2
        finally:
            batcher.close()

    asyncio.run(main())
    assert scorer.calls == [["running"], ["staying"]]


def test_close_fails_what_still_waits():
    scorer = GatedScorer()

    async def main() -> None:
        batcher = MicroBatcher(scorer.score, max_batch_size=1, max_wait_s=0.0, queue_max=100, retry_after_s=1)
        running = asyncio.ensure_future(batcher.score(["running"]))
        await _entered(scorer)
        waiting = asyncio.ensure_future(batcher.score(["waiting"]))
        await _until(lambda: batcher.waiting == 1)
        scorer.release.set()  # lets close() wait for the running call instead of hanging
        batcher.close()
        with pytest.raises(RuntimeError, match="shutting down"):
            await waiting
        with pytest.raises((RuntimeError, asyncio.CancelledError)):
            await running
        with pytest.raises(RuntimeError, match="closed"):
            await batcher.score(["late"])

    asyncio.run(main())
