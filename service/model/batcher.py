"""The micro-batcher: concurrent comments grouped into model calls by one inference worker.

    request ─┐                                   ┌─► scorer.score([...])  (one dedicated thread)
    request ─┼─► asyncio.Queue (bounded by count) ─► worker task ─► futures resolved, in submission order
    request ─┘      │
                    └─ more than QUEUE_MAX comments waiting → `Overloaded` (the API answers 503 + Retry-After)

The simplest correct form (Ray Serve's): one queue, a future per comment, a batch flushed when it reaches
`max_batch_size` or when `max_wait_s` has passed since its first comment arrived. A model call is blocking
and runs in one thread of the batcher's own, never on the event loop; one thread owns the model, because
PyTorch and ONNX Runtime already use every core inside one call.

- **Grouped by length**: when the queue is backed up, the worker takes up to `GROUPING` batches' worth of
  ready comments, sorts them by length and cuts them into batches, so short comments are not padded to the
  length of a long one.
- **Bounded**: at most `queue_max` comments wait (taken by the worker but not yet in a running batch
  counts as waiting). A request that would go past it is refused whole with `Overloaded` — backpressure, not
  a model failure — except when nothing waits at all, so a single request larger than the queue still runs.
- **Clients gone**: a comment whose future was cancelled (its request's task was cancelled) is dropped
  before its batch runs.
- **Failure isolation**: a batch that raises, or returns the wrong number of results, sets that exception on
  each of its own futures; other batches are untouched, and the worker goes on.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

log = logging.getLogger(__name__)

Scores = dict[str, float]
ScoreBatch = Callable[[list[str]], list[Scores]]
BatchObserver = Callable[[int, float, bool], None]
"""Called after each model call with (batch size, seconds, failed); the metrics hook."""

GROUPING = 4
"""How many batches' worth of ready comments one length sort spans, when the queue is backed up."""


class Overloaded(Exception):
    """The batcher's queue is full: answer "try again later", not a verdict."""

    def __init__(self, waiting: int, requested: int, limit: int, retry_after_s: int) -> None:
        super().__init__(waiting, requested, limit, retry_after_s)
        self.waiting, self.requested, self.limit, self.retry_after_s = (
            waiting,
            requested,
            limit,
            retry_after_s,
        )

    def __str__(self) -> str:
        return (
            f"The toxicity model is at capacity ({self.waiting} comments waiting, limit {self.limit}); "
            f"retry in {self.retry_after_s} s."
        )


@dataclass
class BatcherStats:
    batches: int = 0
    comments_scored: int = 0
    batch_failures: int = 0
    dropped: int = 0
    """Comments whose request was gone (cancelled) before their batch ran."""
    overloaded: int = 0
    """Requests refused because the queue was full."""


@dataclass(eq=False)
class _Item:
    text: str
    future: asyncio.Future[Scores]
    running: bool = False


class MicroBatcher:
    def __init__(
        self,
        score: ScoreBatch,
        *,
        max_batch_size: int,
        max_wait_s: float,
        queue_max: int,
        retry_after_s: int,
        observer: BatchObserver | None = None,
    ) -> None:
        if max_batch_size < 1 or queue_max < 1 or max_wait_s < 0:
            raise ValueError("max_batch_size and queue_max must be at least 1, max_wait_s at least 0")
        self._score = score
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.queue_max = queue_max
        self.retry_after_s = retry_after_s
        self._observer = observer
        self.stats = BatcherStats()
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._waiting = 0
        # Queued comments whose request was cancelled: no longer counted as waiting, removed from the queue
        # (and from this count) when the worker next collects.
        self._gone = 0
        self._worker: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self._closed = False

    @property
    def waiting(self) -> int:
        """Comments submitted and not yet in a running batch (the queue depth), not counting departed ones."""
        return self._waiting - self._gone

    async def score(self, texts: Sequence[str]) -> list[Scores]:
        """Scores for `texts`, in order; submitted together, so they may share batches.

        Raises `Overloaded` when they don't fit in the queue, or the exception of a failed batch.
        Cancelling the caller drops its comments that have not started.
        """
        if self._closed:
            raise RuntimeError("the micro-batcher is closed")
        if not texts:
            return []
        if self.waiting and self.waiting + len(texts) > self.queue_max:
            self.stats.overloaded += 1
            raise Overloaded(self.waiting, len(texts), self.queue_max, self.retry_after_s)
        self._ensure_worker()
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Scores]] = []
        for text in texts:
            future: asyncio.Future[Scores] = loop.create_future()
            item = _Item(text, future)
            future.add_done_callback(functools.partial(self._on_done, item))
            self._queue.put_nowait(item)
            futures.append(future)
        self._waiting += len(texts)
        # return_exceptions: every future's outcome is retrieved, even when an earlier one failed.
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        results: list[Scores] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
            results.append(outcome)
        return results

    def _on_done(self, item: _Item, future: asyncio.Future[Scores]) -> None:
        if future.cancelled() and not item.running and not self._closed:
            self._gone += 1

    def close(self) -> None:
        """Stop the worker, fail what still waits, and wait for a running model call to end."""
        self._closed = True
        if self._worker is not None:
            self._worker.cancel()
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(RuntimeError("the service is shutting down"))
        self._waiting = 0
        self._gone = 0
        self._executor.shutdown(wait=True, cancel_futures=True)

    def _ensure_worker(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work(), name="micro-batcher")

    async def _work(self) -> None:
        group: list[_Item] = []
        try:
            while True:
                group = await self._collect()
                live = [item for item in group if not item.future.done()]
                self._drop([item for item in group if item.future.done()])
                live.sort(key=lambda item: len(item.text))
                for start in range(0, len(live), self.max_batch_size):
                    batch = live[start : start + self.max_batch_size]
                    running = [item for item in batch if not item.future.done()]  # gone while others ran
                    self._drop([item for item in batch if item.future.done()])
                    for item in running:
                        item.running = True
                    self._waiting -= len(running)
                    if running:
                        await self._run(running)
        except asyncio.CancelledError:  # close(): nobody may wait forever on a comment the worker held
            for item in group:
                if not item.future.done():
                    item.future.set_exception(RuntimeError("the service is shutting down"))
            raise

    async def _collect(self) -> list[_Item]:
        """The next group: a batch flushed at max size or max wait, plus whatever else is ready now."""
        group = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + self.max_wait_s
        while len(group) < self.max_batch_size:
            if not self._queue.empty():
                group.append(self._queue.get_nowait())
                continue
            try:
                async with asyncio.timeout_at(deadline):
                    group.append(await self._queue.get())
            except TimeoutError:
                break
        while len(group) < self.max_batch_size * GROUPING and not self._queue.empty():
            group.append(self._queue.get_nowait())
        return group

    def _drop(self, items: list[_Item]) -> None:
        if items:
            self._waiting -= len(items)
            self._gone -= sum(1 for item in items if item.future.cancelled())
            self.stats.dropped += len(items)
            log.debug("dropped %d queued comment(s) whose request is gone", len(items))

    async def _run(self, batch: list[_Item]) -> None:
        texts = [item.text for item in batch]
        started = time.perf_counter()
        failed = False
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._executor, self._score, texts)
            if len(results) != len(batch):
                raise RuntimeError(f"the model returned {len(results)} score sets for {len(batch)} comments")
        except Exception as exc:
            failed = True
            self.stats.batch_failures += 1
            log.warning("a batch of %d comment(s) failed: %s: %s", len(batch), type(exc).__name__, exc)
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(exc)
        else:
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
        finally:
            elapsed = time.perf_counter() - started
            self.stats.batches += 1
            self.stats.comments_scored += len(batch)
            if self._observer is not None:
                try:
                    self._observer(len(batch), elapsed, failed)
                except Exception:  # metrics must never take the worker down
                    log.exception("batch observer failed")
