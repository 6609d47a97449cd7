"""Webhook outbox benchmark: what delivering through the outbox costs, and how long a restart delays one.

- direct: the same POSTs from process memory, 8 at a time, without the outbox (the baseline);
- store: the outbox's own work per delivery (no HTTP), sequentially;
- burst: N decisions' payloads submitted at once (as DecisionLog's on_final does), delivered by one worker
  (WEBHOOK_CONCURRENCY 8) to a receiver answering 204 at once, for the Redis outbox and the memory one:
  submit's cost per call on the decision's path, deliveries per second until the outbox is empty, and the
  event loop's lag meanwhile (a 5 ms ticker's overshoot: what a request handled during the burst waits);
- restart: a delivery whose first attempt failed, its worker stopped during the backoff; a new worker (a new
  process's) delivers it once WEBHOOK_CLAIM_IDLE_S has passed: the time from the new start to delivery.

The receiver is a threaded `http.server` in the same process, so its work shares the GIL with the worker's:
the rates are a floor for a receiver elsewhere.

Run: `python -m tests.benchmarks.bench_outbox` (a Redis at TEST_REDIS_URL or redis://127.0.0.1:6379/15; about
ten seconds). Prints the figures; exit status 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
import uuid

from service.review.outbox import OutboxWorker
from service.review.webhook import WebhookSender
from service.store.outbox import MemoryOutbox, Outbox, RedisOutbox
from tests.support.receiver import Receiver
from tests.support.redis_server import DEFAULT_TEST_REDIS_URL, delete_keys_under

N = 2000
CLAIM_IDLE_S = 1.0
SECRET = "bench-secret-" + "x" * 32


def _payload(n: int) -> dict[str, object]:
    return {
        "event": "comment.decided",
        "delivery_id": uuid.uuid4().hex,
        "comment_id": f"c{n}",
        "status": "approved",
        "publish": True,
        "decided_by": "admin",
        "decided_at": "2026-11-29T10:00:00.000Z",
    }


async def _lag(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        lags.append(time.perf_counter() - started - 0.005)


async def burst(outbox: Outbox, receiver: Receiver) -> str:
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5.0)
    worker = OutboxWorker(outbox, sender, claim_idle_s=30.0, poll_s=1.0, concurrency=8)
    stop, lags = asyncio.Event(), list[float]()
    ticker = asyncio.create_task(_lag(stop, lags))
    worker.start()
    before = len(receiver.requests)
    started = time.perf_counter()
    for n in range(N):
        worker.submit(_payload(n))
    submitted = time.perf_counter() - started
    while len(receiver.requests) - before < N:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    while await outbox.depth():
        await asyncio.sleep(0.01)
    stop.set()
    await ticker
    await worker.aclose()
    lags.sort()
    return (
        f"submit {submitted / N * 1e6:.1f} µs/call; {N} delivered in {elapsed:.2f} s = {N / elapsed:.0f}/s; "
        f"loop lag p50 {statistics.median(lags) * 1000:.1f} ms, p99 {lags[int(len(lags) * 0.99)] * 1000:.1f} ms, "
        f"max {lags[-1] * 1000:.1f} ms"
    )


async def direct(receiver: Receiver) -> str:
    """The baseline: the same POSTs from process memory, 8 at a time as the worker makes them, no outbox."""
    sender = WebhookSender(receiver.url, SECRET, timeout_s=5.0)
    room = asyncio.Semaphore(8)

    async def post(n: int) -> bool:
        async with room:
            return (await sender.attempt(json.dumps(_payload(n)).encode(), f"d{n}")).delivered

    started = time.perf_counter()
    delivered = sum(await asyncio.gather(*(post(n) for n in range(N))))
    elapsed = time.perf_counter() - started
    await sender.aclose()
    return f"{delivered} delivered in {elapsed:.2f} s = {N / elapsed:.0f}/s (8 at a time)"


async def store_cost(outbox: Outbox) -> str:
    """The outbox's own work per delivery, without HTTP: enqueue, read, count the attempt, acknowledge."""
    await outbox.prepare("bench", forget_idle_ms=86_400_000)
    started = time.perf_counter()
    for n in range(N):
        entry_id = await outbox.enqueue(f'{{"comment_id":"c{n}"}}', f"d{n}")
        await outbox.read_new("bench", 1)
        await outbox.begin_attempt(entry_id, "bench")
        await outbox.ack(entry_id)
    per = (time.perf_counter() - started) / N
    return f"enqueue + read + attempt + ack: {per * 1e6:.0f} µs per delivery, sequential ({1 / per:.0f}/s)"


async def restart(url: str, prefix: str) -> str:
    receiver = Receiver(failures=1)
    try:
        first_outbox = RedisOutbox.from_url(url, prefix=prefix)
        first = OutboxWorker(
            first_outbox,
            WebhookSender(receiver.url, SECRET, backoff_s=60.0, timeout_s=0.5),
            claim_idle_s=CLAIM_IDLE_S,
            poll_s=0.1,
        )
        first.start()
        first.submit(_payload(0))
        await receiver.until(1)
        await first.aclose()
        second = OutboxWorker(
            RedisOutbox.from_url(url, prefix=prefix),
            WebhookSender(receiver.url, SECRET, timeout_s=0.5),
            claim_idle_s=CLAIM_IDLE_S,
            poll_s=0.1,
        )
        started = time.perf_counter()
        second.start()
        await receiver.until(2, timeout_s=30)
        took = time.perf_counter() - started
        await asyncio.sleep(CLAIM_IDLE_S)
        await second.aclose()
        return (
            f"stopped mid-backoff, delivered {took:.2f} s after the new worker started "
            f"(WEBHOOK_CLAIM_IDLE_S={CLAIM_IDLE_S:g}, poll 0.1 s); requests {receiver.statuses}"
        )
    finally:
        receiver.close()


async def main() -> None:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    prefix = f"bench-outbox-{uuid.uuid4().hex[:8]}:"
    receiver = Receiver()
    try:
        print(f"direct (no outbox) {await direct(receiver)}")
        for name, outbox in (
            ("redis", RedisOutbox.from_url(url, prefix=prefix, max_entries=N * 2)),  # closed by burst
            ("memory", MemoryOutbox(max_entries=N * 2)),
        ):
            print(f"store  {name:6} {await store_cost(outbox)}")
            print(f"burst  {name:6} {await burst(outbox, receiver)}")
        print(f"restart redis  {await restart(url, prefix + 'restart:')}")
    finally:
        receiver.close()
        delete_keys_under(url, prefix)


if __name__ == "__main__":
    asyncio.run(main())
