"""The webhook's delivery worker: moderators' decisions go through the outbox (service/store/outbox.py).

    DecisionLog._apply ──on_final──► OutboxWorker.submit ──► outbox (Redis Stream) ──► worker ──POST──► site
                                                                       ▲                 │
                                              XAUTOCLAIM after         │     2xx: XACK; retryable failure:
                                              WEBHOOK_CLAIM_IDLE_S ────┘     back off, again; last attempt
                                              (a dead consumer's)            or a final answer: dead letter

`submit` is what the decision log calls (it must not block): one writer task writes the payloads to the
outbox in order, and while the outbox is unreachable keeps them (at most 10,000, then each further one is
logged as lost) and tries again, backing off as deliveries do; shutdown gives those writes two seconds.
The worker, one asyncio task per app, takes new entries (XREADGROUP), and entries idle for
WEBHOOK_CLAIM_IDLE_S whose consumer died (XAUTOCLAIM), up to WEBHOOK_CONCURRENCY at a time, each delivered
by a task of its own: nothing here blocks the event loop, and the HTTP work is httpx's.

Attempts are counted in the outbox, so a restart continues the count: a delivery gets WEBHOOK_MAX_ATTEMPTS
attempts in all, whichever processes make them. A claimed entry is attempted at once (its idle time served
as the wait). While it waits between attempts, the worker touches its entry every third of
WEBHOOK_CLAIM_IDLE_S, so no other replica takes it over: several replicas share the work without sending a
delivery twice in the normal case. Delivery is still at least once (a process killed after the receiver
answered but before XACK sends it again): the receiver drops a delivery_id it has already seen.

On shutdown the worker stops and its deliveries in flight are cancelled without acknowledgement: they stay
pending in Redis and a worker started afterwards (here or in another replica) claims them once idle for
WEBHOOK_CLAIM_IDLE_S. With the memory outbox (no REDIS_URL) nothing survives the process.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import time
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from service.review.webhook import WebhookSender, encode
from service.store.base import StoreUnavailable
from service.store.outbox import Outbox, OutboxEntry, OutboxFull

log = logging.getLogger(__name__)

_MAX_SUBMITTING = 10_000  # payloads waiting to be written to an unreachable outbox, at most


@dataclass
class OutboxStats:
    delivered: int = 0
    dead_lettered: int = 0
    failed_attempts: int = 0
    lost: int = 0  # payloads that never reached the outbox (full, or unreachable for every write attempt)
    store_errors: int = 0


def consumer_name() -> str:
    """This worker's name in the consumer group: host, process and a random part (a new one per start)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class OutboxWorker:
    def __init__(
        self,
        outbox: Outbox,
        sender: WebhookSender,
        *,
        claim_idle_s: float = 30.0,
        poll_s: float = 1.0,
        concurrency: int = 8,
        consumer: str | None = None,
    ) -> None:
        self.outbox, self.sender = outbox, sender
        self.claim_idle_s, self.poll_s, self.concurrency = claim_idle_s, poll_s, concurrency
        self.consumer = consumer or consumer_name()
        self.stats = OutboxStats()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._waiting: deque[tuple[str, str]] = deque()  # (body, delivery id) not yet in the outbox
        self._writer: asyncio.Task[None] | None = None
        self._stopping = False
        self._delivering: dict[str, asyncio.Task[None]] = {}

    # -- writing ---------------------------------------------------------------------------------------------

    def submit(self, payload: dict[str, Any]) -> None:
        """Have `payload` written to the outbox in the background, in order (the decision log's on_final)."""
        delivery_id = str(payload.get("delivery_id", ""))
        if len(self._waiting) >= _MAX_SUBMITTING:
            self.stats.lost += 1
            log.error(
                "webhook delivery %s LOST: %d deliveries are already waiting for the outbox to answer",
                delivery_id,
                len(self._waiting),
            )
            return
        self._waiting.append((encode(payload).decode("utf-8"), delivery_id))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="webhook-outbox-writer")

    async def _write(self) -> None:
        # One writer, one entry at a time: a burst of decisions takes one connection, not one each.
        failures = 0
        while self._waiting:
            body, delivery_id = self._waiting[0]  # only this task removes entries, from the left
            try:
                await self.outbox.enqueue(body, delivery_id)
            except OutboxFull as exc:
                self._waiting.popleft()
                self.stats.lost += 1
                log.error("webhook delivery %s LOST: %s", delivery_id, exc)
            except StoreUnavailable as exc:
                # Kept (up to _MAX_SUBMITTING) and written once the outbox answers again.
                failures += 1
                self.stats.store_errors += 1
                delay = self.sender.backoff(failures)
                log.warning(
                    "webhook outbox unavailable (%s): %d deliveries waiting to be written; again in %.1f s",
                    exc,
                    len(self._waiting),
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                self._waiting.popleft()
                failures = 0
                self._wake.set()

    async def retry(self, dead_id: str) -> str | None:
        """Put dead letter `dead_id` back in the outbox, to be delivered at once with a fresh count of
        attempts; None when there is no such dead letter. Raises OutboxFull, StoreUnavailable, and ValueError
        for an id that is not one."""
        entry_id = await self.outbox.retry_dead(dead_id)
        if entry_id is not None:
            self._wake.set()
        return entry_id

    # -- delivering ------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start delivering (in the running event loop)."""
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="webhook-outbox")

    async def _run(self) -> None:
        prepared = False
        while not self._stopping:
            try:
                if not prepared:
                    # Consumers of earlier starts that hold nothing are forgotten after a day.
                    await self.outbox.prepare(self.consumer, forget_idle_ms=86_400_000)
                    prepared = True
                await self._take()
            except StoreUnavailable as exc:
                self.stats.store_errors += 1
                log.warning("webhook outbox unavailable (%s); trying again in %.1f s", exc, self.poll_s)
            except Exception:  # the worker must outlive any one surprise; the next poll tries again
                log.exception("webhook outbox worker failed; trying again in %.1f s", self.poll_s)
            # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives as
            # the event is set, and the worker would then outlive the app's shutdown.
            try:
                async with asyncio.timeout(self.poll_s):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def _take(self) -> None:
        room = self.concurrency - len(self._delivering)
        if room <= 0:
            return
        entries = await self.outbox.claim(self.consumer, int(self.claim_idle_s * 1000), room)
        entries = [e for e in entries if e.entry_id not in self._delivering]
        if len(entries) < room:
            entries += await self.outbox.read_new(self.consumer, room - len(entries))
        for entry in entries:
            if entry.entry_id in self._delivering:
                continue
            task = asyncio.get_running_loop().create_task(self._deliver(entry))
            self._delivering[entry.entry_id] = task
            task.add_done_callback(functools.partial(self._done, entry.entry_id))

    def _done(self, entry_id: str, _: object) -> None:
        self._delivering.pop(entry_id, None)
        self._wake.set()  # room for another

    async def _deliver(self, entry: OutboxEntry) -> None:
        try:
            await self._attempts(entry)
        except StoreUnavailable as exc:
            # Left pending: claimed again (by this worker too) once idle for claim_idle_s.
            self.stats.store_errors += 1
            log.warning("webhook delivery %s paused: the outbox did not answer (%s)", entry.delivery_id, exc)

    async def _attempts(self, entry: OutboxEntry) -> None:
        body = entry.body.encode("utf-8")
        while True:
            number = await self.outbox.begin_attempt(entry.entry_id, self.consumer)
            if number is None:
                return  # delivered or dead-lettered meanwhile (by a worker that claimed it)
            if number > self.sender.max_attempts:  # counted by an attempt that a crash interrupted
                await self._give_up(entry, number - 1, "no attempts left (the last one was interrupted)")
                return
            outcome = await self.sender.attempt(body, entry.delivery_id)
            if outcome.delivered:
                await self.outbox.ack(entry.entry_id)
                self.stats.delivered += 1
                return
            self.stats.failed_attempts += 1
            if not outcome.retry:
                await self._give_up(entry, number, f"{outcome.problem} (not retried)")
                return
            if number >= self.sender.max_attempts:
                await self._give_up(entry, number, outcome.problem)
                return
            delay = self.sender.backoff(number)
            log.warning(
                "webhook %s delivery %s attempt %d/%d failed (%s); retrying in %.1f s",
                self.sender.url,
                entry.delivery_id,
                number,
                self.sender.max_attempts,
                outcome.problem,
                delay,
            )
            if not await self._hold(entry, delay):
                return

    async def _hold(self, entry: OutboxEntry, delay_s: float) -> bool:
        """Wait `delay_s`, keeping the entry ours; False when it is gone meanwhile."""
        step = self.claim_idle_s / 3
        deadline = time.monotonic() + delay_s
        while (left := deadline - time.monotonic()) > 0:
            await asyncio.sleep(min(step, left))
            if time.monotonic() < deadline and not await self.outbox.touch(entry.entry_id, self.consumer):
                return False
        return True

    async def _give_up(self, entry: OutboxEntry, attempts: int, problem: str) -> None:
        await self.outbox.dead_letter(entry, attempts, problem)
        self.stats.dead_lettered += 1
        log.error(
            "webhook %s: delivery %s failed after %d attempts (%s); dead-lettered, to retry from the dashboard",
            self.sender.url,
            entry.delivery_id,
            attempts,
            problem,
        )

    # -- stopping --------------------------------------------------------------------------------------------

    async def aclose(self, grace_s: float = 2.0) -> None:
        """Stop: give the payloads still being written `grace_s`, cancel deliveries in flight (unacknowledged,
        they stay pending for the next worker), close the sender and the outbox."""
        if self._writer is not None:
            await asyncio.wait({self._writer}, timeout=grace_s)
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
        if self._waiting:
            self.stats.lost += len(self._waiting)
            log.error(
                "shutting down with %d webhook deliveries not written to the outbox: LOST", len(self._waiting)
            )
            self._waiting.clear()
        self._stopping = True
        in_flight = len(self._delivering)
        tasks = [t for t in (self._runner, *self._delivering.values()) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            stopped, stuck = await asyncio.wait(tasks, timeout=grace_s)
            for task in stopped:
                if not task.cancelled() and task.exception() is not None:
                    log.error("webhook outbox task failed", exc_info=task.exception())
            if stuck:  # never seen; but shutdown must not hang on it
                log.error("webhook outbox: %d tasks did not stop when cancelled", len(stuck))
        if in_flight:
            log.info("webhook outbox: %d deliveries left pending for the next start", in_flight)
        self._runner = None
        await self.sender.aclose()
        await self.outbox.aclose()
