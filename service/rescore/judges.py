"""Judges: what turns chunks of rows into verdicts, all on the API's own pipeline (`runtime.pipeline`, without
the verdict cache and without a decision log), so a rescored verdict is the one POST /v1/moderate would give.

    JudgeRunner (protocol: identity, map(chunks) -> (chunk, verdicts) in input order, close)
     ├── Judge       in this process; two chunks in flight, so word lists overlap the model
     ├── PoolJudge   --workers N: N spawned processes, each with its own Judge (and model)
     └── RayJudge    --ray ADDRESS: Ray Data actors, each with its own Judge (service.rescore.ray)

`identity` is the pipeline's identity (policy, word lists, model): the resume fingerprint holds it fixed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from service import runtime
from service.config import Settings
from service.model.base import Scorer
from service.moderation.types import Comment
from service.rescore.errors import RescoreFailed
from service.rescore.options import DEFAULT_BATCH_SIZE, DEFAULT_RAY_WINDOW
from service.rescore.ray import RayRunner
from service.rescore.records import Chunk
from service.store.memory import MemoryStore

ScorerFactory = Callable[[], Scorer]
"""Builds a scorer (tests pass a picklable one; the command loads the model named by Settings)."""

Verdicts = list[dict[str, Any]]
"""Verdicts as the API's JSON, one per row of a chunk, in the rows' order."""

Judged = Generator[tuple[Chunk, Verdicts], None, None]
"""(chunk, its verdicts) in input order. Closing it before the end cancels the chunks still in flight."""


class JudgeRunner(Protocol):
    """Verdicts for chunks of rows, chunk by chunk in input order, however and wherever they are computed."""

    identity: dict[str, str]

    def map(self, chunk_iter: Iterator[Chunk]) -> Judged: ...

    def close(self) -> None: ...


def _rescoring_settings(settings: Settings, batch_size: int) -> Settings:
    # Two chunks are in flight at once; the service's queue bound is for HTTP backpressure, not for a batch job.
    return settings.model_copy(update={"QUEUE_MAX": max(settings.QUEUE_MAX, 4 * batch_size)})


class Judge:
    """The API's pipeline built from Settings, without the verdict cache and without a decision log."""

    def __init__(
        self,
        settings: Settings,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        scorer_factory: ScorerFactory | None = None,
        threads: int | None = None,
    ) -> None:
        settings = _rescoring_settings(settings, batch_size)
        # Loaded once and never watched: a run must not change rules halfway through.
        rules = runtime.load_rules(settings)
        scorer = scorer_factory() if scorer_factory is not None else runtime.load_model(settings, threads)
        runtime.warn_missing_categories(rules.current().policy, scorer)
        self.pipeline = runtime.pipeline(
            settings,
            rules=rules,
            scorer=scorer,
            store=MemoryStore(max_entries=1),
            cache=False,
        )
        # The same identity the verdict cache keys on: what the resume fingerprint must hold fixed.
        self.identity = self.pipeline.identity().as_dict()
        self.loop = asyncio.new_event_loop()

    async def ajudge(self, comments: Sequence[tuple[str, str]]) -> Verdicts:
        """Verdicts on the running loop (the caller's: `--from-log` judges inside its own)."""
        verdicts = await self.pipeline.moderate([Comment(id=i, text=t) for i, t in comments])
        if self.pipeline.model_enabled and any(
            r.code == "model_unavailable" for v in verdicts for r in v.reasons
        ):
            # The service falls back to review; a rescoring run must not record that as the new verdict.
            raise RescoreFailed(
                "the toxicity model failed on a batch (see the log above); nothing of it was written"
            )
        return [v.model_dump(mode="json") for v in verdicts]

    def judge(self, comments: Sequence[tuple[str, str]]) -> Verdicts:
        """Verdicts on this judge's own loop (worker processes and Ray actors)."""
        return self.loop.run_until_complete(self.ajudge(comments))

    def map(self, chunk_iter: Iterator[Chunk]) -> Judged:
        """Verdicts per chunk, in order, with the next chunk's word-list work overlapping this one's model."""
        pending: deque[tuple[Chunk, asyncio.Task[Verdicts]]] = deque()
        try:
            for chunk in chunk_iter:
                task = self.loop.create_task(self.ajudge([(r.id, r.text) for r in chunk.rows]))
                pending.append((chunk, task))
                if len(pending) >= 2:
                    yield self._first_done(pending)
            while pending:
                yield self._first_done(pending)
        finally:
            # Every chunk not handed back is cancelled, the one awaited when Ctrl-C came included: left
            # running, it could wait forever on comments that a micro-batcher hit by the interrupt will never
            # answer, and close() would wait with it.
            for _, task in pending:
                task.cancel()

    def _first_done(self, pending: deque[tuple[Chunk, asyncio.Task[Verdicts]]]) -> tuple[Chunk, Verdicts]:
        chunk, task = pending[0]
        verdicts = self.loop.run_until_complete(task)
        pending.popleft()  # only once done: an interrupt above leaves it in `pending`, to be cancelled
        return chunk, verdicts

    def close(self) -> None:
        self.pipeline.close()
        if not self.loop.is_running():
            # Let the cancelled micro-batcher task finish its cancellation before the loop goes.
            tasks = asyncio.all_tasks(self.loop)
            if tasks:
                gathered = asyncio.gather(*tasks, return_exceptions=True)
                # A Ctrl-C that lands just as the awaited chunk finishes leaves that run's "stop the loop"
                # callback queued (the interrupted run_until_complete could no longer take it back): the
                # next run stops early on it, saying "Event loop stopped before Future completed". Run again.
                for _ in range(3):
                    try:
                        self.loop.run_until_complete(gathered)
                        break
                    except RuntimeError:
                        if gathered.done() or self.loop.is_closed():
                            break
            self.loop.close()


# Worker processes (--workers N): each builds its own Judge, so each loads its own model.
_worker_judge: Judge | None = None


def _worker_init(
    settings: Settings, batch_size: int, scorer_factory: ScorerFactory | None, threads: int
) -> None:
    global _worker_judge
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and shuts the pool down
    logging.basicConfig(level=logging.WARNING)
    _worker_judge = Judge(settings, batch_size=batch_size, scorer_factory=scorer_factory, threads=threads)


def _worker_identity() -> dict[str, str]:
    assert _worker_judge is not None
    return _worker_judge.identity


def _worker_judge_chunk(comments: list[tuple[str, str]]) -> Verdicts:
    assert _worker_judge is not None
    return _worker_judge.judge(comments)


class PoolJudge:
    """`--workers N`: chunks judged in N processes, results taken back in input order, 2N chunks in flight."""

    def __init__(
        self, settings: Settings, workers: int, *, batch_size: int, scorer_factory: ScorerFactory | None
    ) -> None:
        # Imported for this path alone: only --workers needs a process context.
        import multiprocessing

        threads = settings.MODEL_THREADS or max(1, (os.cpu_count() or 1) // workers)
        # spawn: forking a process that holds PyTorch's thread pools is not safe.
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(settings, batch_size, scorer_factory, threads),
        )
        self.workers = workers
        try:
            self.identity = self.pool.submit(_worker_identity).result()
        except BaseException:
            # A worker that cannot build its judge (a broken policy, a model that does not load): no pool
            # left behind.
            self.pool.shutdown(wait=True, cancel_futures=True)
            raise

    def map(self, chunk_iter: Iterator[Chunk]) -> Judged:
        pending: deque[tuple[Chunk, Future[Verdicts]]] = deque()
        try:
            for chunk in chunk_iter:
                pending.append(
                    (chunk, self.pool.submit(_worker_judge_chunk, [(r.id, r.text) for r in chunk.rows]))
                )
                if len(pending) >= 2 * self.workers:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class RayJudge:
    """`--ray ADDRESS`: chunks judged by Ray Data `map_batches` on an actor pool, each actor with a Judge."""

    def __init__(
        self,
        settings: Settings,
        address: str,
        *,
        actors: int,
        batch_size: int,
        window: int,
        scorer_factory: ScorerFactory | None,
    ) -> None:
        self.runner = RayRunner(
            address,
            actors=actors,
            batch_size=batch_size,
            make_judge=functools.partial(
                Judge, settings, batch_size=batch_size, scorer_factory=scorer_factory
            ),
            threads=settings.MODEL_THREADS or 1,
        )
        self.window = window
        self.identity = self.runner.identity

    def map(self, chunk_iter: Iterator[Chunk]) -> Judged:
        # The driver reads and checks the input (line numbers, bad rows, checkpoints) and hands Ray Data a
        # window of rows at a time, so its memory stays bounded whatever the input's size.
        window: list[Chunk] = []
        for chunk in chunk_iter:
            window.append(chunk)
            if sum(len(c.rows) for c in window) >= self.window:
                yield from self._run(window)
                window = []
        if window:
            yield from self._run(window)

    def _run(self, window: list[Chunk]) -> Judged:
        results = self.runner.judge([(r.id, r.text) for c in window for r in c.rows])
        for chunk in window:
            yield chunk, [next(results) for _ in chunk.rows]

    def close(self) -> None:
        self.runner.close()


def make_judge(
    settings: Settings,
    *,
    workers: int = 1,
    ray: str | None = None,
    ray_window: int = DEFAULT_RAY_WINDOW,
    batch_size: int = DEFAULT_BATCH_SIZE,
    scorer_factory: ScorerFactory | None = None,
) -> JudgeRunner:
    """The judge the options ask for: Ray actors (`ray`), worker processes (`workers` > 1), or this process."""
    if ray:
        return RayJudge(
            settings,
            ray,
            actors=workers,
            batch_size=batch_size,
            window=ray_window,
            scorer_factory=scorer_factory,
        )
    if workers > 1:
        return PoolJudge(settings, workers, batch_size=batch_size, scorer_factory=scorer_factory)
    return Judge(settings, batch_size=batch_size, scorer_factory=scorer_factory)
