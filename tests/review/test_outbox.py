"""The webhook's delivery worker against a real HTTP receiver, on a real Redis outbox and on the memory one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from pydantic import ValidationError

from service.review.outbox import OutboxWorker
from service.review.webhook import WebhookSender, verify
from service.store.outbox import MemoryOutbox, Outbox, RedisOutbox
from tests.support.receiver import Receiver
from tests.support.redis_server import ThrowawayRedis
from tests.support.settings import make_settings

pytestmark = pytest.mark.anyio

SECRET = "webhook-secret-for-tests"
CLAIM_IDLE_S = 0.4

MakeWorker = Callable[..., OutboxWorker]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _outbox(kind: str, redis_url: str, key_prefix: str, **caps: int) -> Outbox:
    if kind == "redis":
        return RedisOutbox.from_url(redis_url, prefix=key_prefix, **caps)
    return MemoryOutbox(**caps)


@pytest.fixture(params=["redis", "memory"])
async def make_worker(
    request: pytest.FixtureRequest, redis_url: str, key_prefix: str, receiver: Receiver
) -> AsyncIterator[MakeWorker]:
    """Workers on one outbox (a memory one is shared by the workers of one test, like a Redis one)."""
    shared: dict[str, Outbox] = {}
    started: list[OutboxWorker] = []

    def make(*, max_attempts: int = 4, backoff_s: float = 0.05, start: bool = True) -> OutboxWorker:
        # Redis: each worker on a connection of its own, as in another process.
        if "outbox" not in shared or request.param == "redis":
            shared["outbox"] = _outbox(request.param, redis_url, key_prefix)
        outbox = shared["outbox"]
        sender = WebhookSender(
            receiver.url, SECRET, max_attempts=max_attempts, backoff_s=backoff_s, timeout_s=0.3
        )
        worker = OutboxWorker(outbox, sender, claim_idle_s=CLAIM_IDLE_S, poll_s=0.05, concurrency=4)
        if start:
            worker.start()
        started.append(worker)
        return worker

    yield make
    for worker in started:
        await worker.aclose()  # again for a test's stopped one: harmless


def _payload(n: int) -> dict[str, object]:
    return {"event": "comment.decided", "delivery_id": f"d{n}", "comment_id": f"c{n}", "status": "approved"}


async def _settled(worker: OutboxWorker, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while await worker.outbox.depth():
        assert time.monotonic() < deadline, "the outbox did not empty"
        await asyncio.sleep(0.02)


async def test_a_delivery_that_fails_twice_is_delivered_signed_once(make_worker, receiver):
    receiver.failures = 2
    worker = make_worker()
    worker.submit(_payload(1))
    await receiver.until(3)
    await _settled(worker)
    assert receiver.statuses == [500, 500, 204]
    assert receiver.delivered() == ["d1"]
    headers, raw, _ = receiver.requests[-1]
    assert verify(SECRET, raw, headers["x-moderation-signature"])
    assert len({body for _, body, _ in receiver.requests}) == 1  # every attempt the same bytes
    await _until(lambda: worker.stats.delivered == 1)  # counted just after the outbox lets go of it
    assert worker.stats.failed_attempts == 2


async def test_after_the_last_attempt_the_delivery_is_dead_lettered(make_worker, receiver):
    receiver.failures, receiver.fail_status = 100, 503
    worker = make_worker(max_attempts=3)
    worker.submit(_payload(1))
    await receiver.until(3)
    await _settled(worker)
    await asyncio.sleep(0.2)
    assert len(receiver.requests) == 3  # and no fourth
    [dead] = await worker.outbox.dead_page(None, 10)
    assert (dead.delivery_id, dead.attempts, dead.error) == ("d1", 3, "HTTP 503")
    assert dead.payload["comment_id"] == "c1"

    receiver.failures = 0
    assert await worker.retry(dead.dead_id) is not None
    await receiver.until(4)
    await _settled(worker)
    assert receiver.delivered() == ["d1"] and await worker.outbox.dead_count() == 0


async def test_a_refusal_is_dead_lettered_at_once(make_worker, receiver):
    receiver.failures, receiver.fail_status = 100, 410
    worker = make_worker(max_attempts=5)
    worker.submit(_payload(1))
    await receiver.until(1)
    await _settled(worker)
    [dead] = await worker.outbox.dead_page(None, 10)
    assert (dead.attempts, dead.error) == (1, "HTTP 410 (not retried)")


async def test_a_delivery_survives_a_restart_mid_retry_and_is_delivered_once(make_worker, receiver):
    receiver.failures = 1
    # A long backoff: the first worker is stopped while it waits to retry.
    first = make_worker(backoff_s=30.0)
    outbox = first.outbox
    first.submit(_payload(1))
    await receiver.until(1)
    started = time.monotonic()
    await first.aclose()
    assert time.monotonic() - started < 1.0  # stopping does not wait out the backoff
    assert await outbox.depth() == 1  # unacknowledged: still there

    second = make_worker()
    await receiver.until(2, timeout_s=CLAIM_IDLE_S * 10)
    await _settled(second)
    await asyncio.sleep(CLAIM_IDLE_S)
    assert receiver.statuses == [500, 204]
    assert receiver.delivered() == ["d1"]


async def test_two_workers_share_deliveries_without_sending_one_twice(make_worker, receiver):
    first, second = make_worker(start=False), make_worker(start=False)
    for n in range(30):
        first.submit(_payload(n))
    await _written(first, 30)
    first.start()
    second.start()
    await receiver.until(30)
    await _settled(first)
    await asyncio.sleep(CLAIM_IDLE_S * 1.5)  # long enough for a wrongful takeover to show
    assert sorted(receiver.delivered()) == sorted(f"d{n}" for n in range(30))


async def _until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _written(worker: OutboxWorker, count: int) -> None:
    deadline = time.monotonic() + 5
    while await worker.outbox.depth() < count:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)


async def test_decisions_made_while_redis_is_down_are_written_and_delivered_when_it_answers(receiver):
    redis_server = ThrowawayRedis()  # not started yet: Redis is down
    try:
        sender = WebhookSender(receiver.url, SECRET, backoff_s=0.05, backoff_max_s=0.2, timeout_s=0.3)
        worker = OutboxWorker(
            RedisOutbox.from_url(redis_server.url), sender, claim_idle_s=CLAIM_IDLE_S, poll_s=0.05
        )
        worker.start()
        try:
            for n in range(3):
                worker.submit(_payload(n))
            await asyncio.sleep(0.4)
            assert receiver.requests == [] and worker.stats.store_errors > 0 and worker.stats.lost == 0
            redis_server.start()
            await receiver.until(3)
            await _settled(worker)
            # Written in the order decided, delivered side by side: each once.
            assert sorted(receiver.delivered()) == ["d0", "d1", "d2"]
        finally:
            await worker.aclose()
    finally:
        redis_server.close()


def test_the_claim_time_must_outlast_a_post():
    with pytest.raises(
        ValidationError, match=r"WEBHOOK_CLAIM_IDLE_S .* must be longer than .*WEBHOOK_TIMEOUT_S"
    ):
        make_settings(WEBHOOK_TIMEOUT_S=10, WEBHOOK_CLAIM_IDLE_S=5)
    settings = make_settings()
    assert (settings.WEBHOOK_CLAIM_IDLE_S, settings.WEBHOOK_OUTBOX_MAX, settings.WEBHOOK_DEAD_LETTER_MAX) == (
        30.0,
        100_000,
        10_000,
    )
