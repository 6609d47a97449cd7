"""Outage journal benchmark (issue 12): what journaling costs a request, how fast it drains, how big it gets.

- record size: the bytes of one journal line for a typical review (a 300-character comment with reasons and
  scores) and for the largest comment the API takes (MAX_CHARS = 10,000 characters), for sizing the bound;
- append: the cost of Journal.append per record (JSON, checksum, queueing; the disk is the writer thread's);
  the event loop's longest stall while the pipeline's `add` (the JSON in a worker thread) takes a request of
  100 comments; the writer's fsyncs for a steady stream at the default group settings;
- replay: records a second written into a real Redis through DecisionLog.write at the default
  JOURNAL_REPLAY_BATCH and JOURNAL_REPLAY_CONCURRENCY;
- restart: the time to load a journal of LOADED records at start (a thread, before the app answers).

Run: `python -m tests.benchmarks.bench_journal` (a Redis at TEST_REDIS_URL or redis://127.0.0.1:6379/15;
about half a minute on 2 cores). Prints the figures; exit status 0.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from service.config import Settings
from service.moderation.types import Comment, Profanity, Reason, Verdict, WordMatch
from service.review.journal import Journal, encode_line
from service.review.log import DecisionLog
from service.review.models import PendingRecord
from service.store import MemoryStore, RedisStore
from tests.support.redis_server import DEFAULT_TEST_REDIS_URL, delete_keys_under

APPENDS = 20_000
STREAM = 2_000  # records appended one per STREAM_GAP_S, for the fsync count
STREAM_GAP_S = 0.001
REPLAYED = 5_000
LOADED = 20_000


def _records(count: int, text_chars: int = 300) -> list[PendingRecord]:
    preparer = DecisionLog(MemoryStore(), max_entries=10, retention_s=60)
    text = ("You are a numpty, and this article is rubbish. " * (text_chars // 40 + 1))[:text_chars]
    reasons = [
        Reason(code="model_score", clause="personal", source="model", action="review", category="insult",
               score=0.61, threshold=0.5),
        Reason(code="wordlist_match", clause="personal", source="wordlist", action="review", term="numpty",
               start=11, end=17),
    ]  # fmt: skip
    matches = [WordMatch(term="numpty", tier="review", clause="personal", start=11, end=17, text="numpty")]
    comments, verdicts = [], []
    for _ in range(count):
        comment_id = uuid.uuid4().hex
        comments.append(Comment(id=comment_id, text=text, article_id="article-1", author_id="author-1"))
        verdicts.append(
            Verdict(
                id=comment_id,
                verdict="review",
                reasons=reasons,
                notice="Your comment will appear once a moderator has reviewed it.",
                scores={c: 0.01 for c in ("toxicity", "severe_toxicity", "obscene", "threat", "insult")},
                profanity=Profanity(matches=matches),
                policy_version="2026-11-29.1",
                model="unbiased:0123456789ab",
            )
        )
    return preparer.prepare(comments, verdicts)


def _journal(base: Path, settings: Settings, **overrides: float) -> Journal[PendingRecord]:
    options: dict[str, object] = {
        "decode": PendingRecord.from_json,
        "key": lambda record: record.comment.id,
        "max_records": 10_000_000,
        "max_bytes": 10 * 1024**3,
        "group_ms": settings.JOURNAL_FSYNC_MS,
        "group_records": settings.JOURNAL_FSYNC_RECORDS,
    }
    options.update(overrides)
    return Journal.open(base, **options)


def _sizes() -> None:
    typical = len(encode_line(1, _records(1)[0].to_json()))
    largest = len(encode_line(1, _records(1, text_chars=10_000)[0].to_json()))
    print(f"record size: {typical} bytes (300-char review), {largest} bytes (10,000-char review)")


def _append(base: Path, settings: Settings) -> None:
    records = _records(APPENDS)
    journal = _journal(base / "append", settings)
    try:
        started = time.perf_counter()
        for record in records:
            journal.append([record])
        per_record_us = (time.perf_counter() - started) / APPENDS * 1e6
        deadline = time.monotonic() + 120
        while journal.depth().unsynced and time.monotonic() < deadline:
            time.sleep(0.01)
        print(f"append: {per_record_us:.1f} us per record, JSON included ({APPENDS} records, one per call)")
    finally:
        journal.close()
    asyncio.run(_add(base, settings))

    journal = _journal(base / "stream", settings)
    try:
        fsyncs_before = journal.fsyncs
        lags = []
        started = time.monotonic()
        for record in _records(STREAM):
            journal.append([record])
            time.sleep(STREAM_GAP_S)
        sent_s = time.monotonic() - started
        while journal.depth().unsynced:
            time.sleep(0.001)
        lags.append(time.monotonic() - started - sent_s)
        rate = STREAM / sent_s
        print(
            f"fsync groups: {journal.fsyncs - fsyncs_before} fsyncs for {STREAM} records at {rate:.0f}/s "
            f"(JOURNAL_FSYNC_MS={settings.JOURNAL_FSYNC_MS:g}, JOURNAL_FSYNC_RECORDS={settings.JOURNAL_FSYNC_RECORDS});"
            f" last record on disk {statistics.fmean(lags) * 1000:.0f} ms after it was appended"
        )
    finally:
        journal.close()


async def _add(base: Path, settings: Settings) -> None:
    """What `add` (the pipeline's: JSON in a thread) holds the event loop for, per 100-comment request."""
    journal = _journal(base / "add", settings)
    batches = [_records(100) for _ in range(20)]
    blocked: list[float] = []
    try:
        for batch in batches:
            ticks: list[float] = []

            async def ticker(ticks: list[float] = ticks) -> None:
                while True:
                    ticks.append(time.perf_counter())
                    await asyncio.sleep(0)

            task = asyncio.create_task(ticker())
            await journal.add(batch)
            task.cancel()
            gaps = [b - a for a, b in itertools.pairwise(ticks)]
            blocked.append(max(gaps, default=0.0))
        print(f"add: the event loop's longest stall {statistics.median(blocked) * 1000:.1f} ms (median of 20 "
              f"requests of 100 comments; JSON in a worker thread)")  # fmt: skip
    finally:
        journal.close()


async def _replay(base: Path, settings: Settings, url: str) -> None:
    prefix = f"bench-journal-{uuid.uuid4().hex[:8]}:"
    store = RedisStore.from_url(url, prefix=prefix)
    journal = _journal(base / "replay", settings)
    try:
        decisions = DecisionLog(store, max_entries=100_000, retention_s=3600)
        journal.append(_records(REPLAYED))
        started = time.perf_counter()
        while journal.holding:
            await journal.replay_once(
                decisions.write,
                batch=settings.JOURNAL_REPLAY_BATCH,
                concurrency=settings.JOURNAL_REPLAY_CONCURRENCY,
            )
        elapsed = time.perf_counter() - started
        print(f"replay: {REPLAYED / elapsed:.0f} records/s into Redis ({REPLAYED} reviews, batch "
              f"{settings.JOURNAL_REPLAY_BATCH}, concurrency {settings.JOURNAL_REPLAY_CONCURRENCY}, "
              f"{elapsed:.1f} s)")  # fmt: skip
    finally:
        journal.close()
        await store.aclose()
        delete_keys_under(url, prefix)


def _restart(base: Path, settings: Settings) -> None:
    journal = _journal(base / "restart", settings)
    journal.append(_records(LOADED))
    journal.close()
    started = time.perf_counter()
    again = _journal(base / "restart", settings)
    elapsed = time.perf_counter() - started
    try:
        depth = again.depth()
        print(f"restart: {depth.records} records ({depth.bytes / 1e6:.1f} MB) loaded in {elapsed:.2f} s")
    finally:
        again.close()


def main() -> None:
    settings = Settings(REDIS_URL=None)
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    with tempfile.TemporaryDirectory(prefix="bench-journal-") as tmp:
        base = Path(tmp)
        _sizes()
        _append(base, settings)
        asyncio.run(_replay(base, settings, url))
        _restart(base, settings)


if __name__ == "__main__":
    main()
