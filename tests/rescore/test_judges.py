"""Judges: the in-process judge's order and identity, what `make_judge` builds, failures that stop a run."""

from __future__ import annotations

import asyncio
import sys

import pytest

from service.rescore.errors import RescoreError, RescoreFailed
from service.rescore.judges import Judge, make_judge
from service.rescore.records import Chunk, Row
from tests.support.rescore import TEXTS
from tests.support.scorers import FailingScorer, MarkerScorer
from tests.support.settings import make_settings


def _chunks(sizes: list[int]) -> list[Chunk]:
    out, n = [], 0
    for size in sizes:
        rows = [Row(n + i, f"c{n + i}", TEXTS[(n + i) % len(TEXTS)][0], None, {}) for i in range(size)]
        n += size
        out.append(Chunk(rows, [], size, n * 10, n))
    return out


def test_the_in_process_judge_gives_verdicts_chunk_by_chunk_in_order() -> None:
    judge = make_judge(make_settings(), batch_size=3, scorer_factory=MarkerScorer)
    try:
        assert isinstance(judge, Judge)
        given = _chunks([3, 1, 3, 2])
        got = list(judge.map(iter(given)))
    finally:
        judge.close()
    assert [chunk for chunk, _ in got] == given
    assert [[v["id"] for v in verdicts] for _, verdicts in got] == [[r.id for r in c.rows] for c in given]
    assert [v["verdict"] for _, verdicts in got for v in verdicts] == [
        TEXTS[i % len(TEXTS)][1] for i in range(9)
    ]


def test_the_judge_identity_is_the_pipelines() -> None:
    # What the resume fingerprint holds fixed: the same identity the verdict cache keys on.
    judge = Judge(make_settings(), scorer_factory=lambda: MarkerScorer(model_id="marker:abc"))
    try:
        assert judge.identity == judge.pipeline.identity().as_dict()
        assert judge.identity["model"] == "marker:abc"
    finally:
        judge.close()


def test_a_model_that_fails_on_a_batch_stops_the_run() -> None:
    # The service answers review when its model fails; a rescoring run must not write that down as a verdict.
    judge = Judge(make_settings(), scorer_factory=FailingScorer)
    try:
        with pytest.raises(RescoreFailed, match="the toxicity model failed on a batch"):
            judge.judge([("c1", "some words")])
    finally:
        judge.close()


def test_ray_without_ray_installed_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    with pytest.raises(RescoreError, match=r"--ray needs Ray Data: pip install 'comment-moderation\[ray\]'"):
        make_judge(make_settings(), ray="auto", scorer_factory=MarkerScorer)


def test_an_interrupt_cancels_every_chunk_in_flight() -> None:
    judge = Judge(make_settings(), batch_size=2, scorer_factory=MarkerScorer)
    never = asyncio.Event()

    async def ajudge(comments):
        if comments[0][0] == "c0":
            await never.wait()  # comments a micro-batcher hit by the interrupt will never answer
        raise KeyboardInterrupt  # Ctrl-C, landing while the loop runs the next chunk

    judge.ajudge = ajudge  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            list(judge.map(iter(_chunks([2, 2]))))
        waiting = [t for t in asyncio.all_tasks(judge.loop) if not t.done()]
        assert waiting and all(t.cancelling() for t in waiting)  # the awaited chunk too
    finally:
        for task in asyncio.all_tasks(judge.loop):
            task.cancel()  # whatever the assertion found, close() must not wait forever here
        judge.close()


def test_close_survives_a_stop_left_queued_by_an_interrupted_run():
    # A Ctrl-C landing just as an awaited chunk finishes leaves run_until_complete's "stop the loop" callback
    # queued; close() must still let the cancelled tasks finish instead of failing with "Event loop stopped
    # before Future completed" (seen in CI, where the interrupted run then exited 1 instead of 130).
    judge = Judge(make_settings(), scorer_factory=MarkerScorer)

    async def pending_forever() -> None:
        await asyncio.Event().wait()

    task = judge.loop.create_task(pending_forever())
    judge.loop.call_soon(judge.loop.stop)  # the stale callback an interrupted run leaves behind
    task.cancel()
    judge.close()
    assert task.cancelled() and judge.loop.is_closed()
