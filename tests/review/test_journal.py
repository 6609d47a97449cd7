"""The outage journal on its own: lines on disk, order, torn lines, the bound, group fsync, replay and restart.

Records are real PendingRecords (DecisionLog.prepare); replay writes them through a real DecisionLog on a
real Redis, under the test's key prefix; an unavailable store is a RedisStore aimed at a port nothing
listens on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from service.moderation.types import Comment, Verdict
from service.review.journal import Journal, JournalError, decode_line, deployment_directory, encode_line
from service.review.log import DecisionLog
from service.review.models import PendingRecord
from service.store import MemoryStore, RedisStore
from tests.support.redis_server import free_port

pytestmark = pytest.mark.anyio


def _records(count: int, *, start: int = 0, kind: str = "review") -> list[PendingRecord]:
    """`count` prepared records for comments c-<start>...; reviews unless told."""
    preparer = DecisionLog(MemoryStore(), max_entries=1000, retention_s=3600)
    comments = [Comment(id=f"c-{i}", text=f"comment number {i}") for i in range(start, start + count)]
    verdicts = [
        Verdict(id=c.id or "", verdict=kind, policy_version="p1", model="m:1")  # type: ignore[arg-type]
        for c in comments
    ]
    return preparer.prepare(comments, verdicts)


def _open(base: Path, **options: Any) -> Journal[PendingRecord]:
    settings: dict[str, Any] = {
        "decode": PendingRecord.from_json,
        "max_records": 1000,
        "max_bytes": 10 * 1024 * 1024,
        "group_ms": 5.0,
        "group_records": 64,
    }
    settings.update(options)
    return Journal.open(base, **settings)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
def opened() -> Iterator[list[Journal[PendingRecord]]]:
    """Journals a test opened, closed at teardown (a failing test must not leave writer threads behind)."""
    journals: list[Journal[PendingRecord]] = []
    yield journals
    for journal in journals:
        journal.close()


def _ids(journal: Journal[PendingRecord]) -> list[str]:
    return [PendingRecord.from_json(decode_line(e.line)[1]).comment.id or "" for e in journal._entries]  # type: ignore[index]


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.journal"), key=lambda p: int(p.stem))


def _wait_synced(journal: Journal[PendingRecord], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while journal.depth().unsynced:
        assert time.monotonic() < deadline, "the writer thread never fsynced"
        time.sleep(0.005)


@pytest.fixture
async def decisions(redis_url: str, key_prefix: str) -> AsyncIterator[DecisionLog]:
    store = RedisStore.from_url(redis_url, prefix=key_prefix)
    yield DecisionLog(store, max_entries=10_000, retention_s=3600)
    await store.aclose()


# -- lines ----------------------------------------------------------------------------------------------


def test_a_line_round_trips_and_any_damage_is_detected() -> None:
    (record,) = _records(1)
    line = encode_line(7, record.to_json())
    seq, payload = decode_line(line)  # type: ignore[misc]
    assert seq == 7 and PendingRecord.from_json(payload) == record
    assert decode_line(line[:-1]) is None  # torn: no newline
    assert decode_line(line[: len(line) // 2] + b"\n") is None  # torn, then another line's newline
    flipped = bytearray(line)
    flipped[-10] ^= 0x01
    assert decode_line(bytes(flipped)) is None  # a flipped bit in the JSON
    assert decode_line(line.replace(b"7 ", b"8 ", 1)) is None  # another record's seq
    with pytest.raises(ValueError, match="one line"):
        encode_line(1, '{"a":\n1}')


def test_deployments_sharing_a_data_directory_get_their_own_journals(tmp_path: Path) -> None:
    first = deployment_directory(tmp_path, "moderation:")
    assert first != deployment_directory(tmp_path, "moderation-staging:")
    assert first == deployment_directory(tmp_path, "moderation:") and first.parent == tmp_path / "journal"
    assert deployment_directory(tmp_path, "../../etc/").parent == tmp_path / "journal"


# -- appending, the disk, restarting -------------------------------------------------------------------


def test_records_survive_a_restart_in_order(base: Path, opened: list[Journal[PendingRecord]]) -> None:
    base = base / "data" / "journal" / "deployment"  # none of these exists yet
    journal = _open(base)
    records = _records(5)
    assert journal.append(records[:2]) == 2 and journal.append(records[2:]) == 3
    journal.close()
    for made in (base.parent.parent, base.parent, base, journal.directory):
        assert oct(made.stat().st_mode & 0o777) == "0o700", made

    again = _open(base)
    opened.append(again)
    assert again.directory == journal.directory  # the same slot: its lock was released
    assert _ids(again) == [f"c-{i}" for i in range(5)]
    assert again.depth().records == 5 and again.depth().corrupt == 0
    # New records go to a new segment, never after an old one's possibly torn last line.
    again.append(_records(1, start=5))
    _wait_synced(again)
    assert [p.name for p in _segments(again.directory)] == ["1.journal", "2.journal"]


def test_a_torn_last_line_is_skipped_never_misread(
    base: Path, opened: list[Journal[PendingRecord]], caplog: pytest.LogCaptureFixture
) -> None:
    journal = _open(base)
    journal.append(_records(3))
    journal.close()
    (segment,) = _segments(journal.directory)
    data = segment.read_bytes()
    segment.write_bytes(data[:-25])  # the crash came in the middle of the third line

    with caplog.at_level(logging.WARNING, logger="service.review.journal"):
        again = _open(base)
    opened.append(again)
    assert _ids(again) == ["c-0", "c-1"]
    assert again.depth().corrupt == 1
    assert "torn or garbled" in caplog.text


def test_a_garbled_line_in_the_middle_costs_only_itself(
    base: Path, opened: list[Journal[PendingRecord]]
) -> None:
    journal = _open(base)
    journal.append(_records(3))
    journal.close()
    (segment,) = _segments(journal.directory)
    lines = segment.read_bytes().splitlines(keepends=True)
    lines[1] = lines[1].replace(b"comment number 1", b"comment number X")
    segment.write_bytes(b"".join(lines))

    again = _open(base)
    opened.append(again)
    assert _ids(again) == ["c-0", "c-2"] and again.depth().corrupt == 1


def test_a_second_process_takes_another_slot(base: Path, opened: list[Journal[PendingRecord]]) -> None:
    first, second = _open(base), _open(base)
    opened += [first, second]
    assert first.directory.name == "slot-0" and second.directory.name == "slot-1"


def test_an_unusable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(JournalError, match="cannot make the journal's directory"):
        _open(blocker / "journal")


# -- the bound ------------------------------------------------------------------------------------------


def test_past_its_bound_the_journal_drops_counts_and_says_so_once(
    base: Path, opened: list[Journal[PendingRecord]], caplog: pytest.LogCaptureFixture
) -> None:
    journal = _open(base, max_records=3)
    opened.append(journal)
    with caplog.at_level(logging.ERROR, logger="service.review.journal"):
        assert journal.append(_records(2)) == 2
        assert journal.append(_records(3, start=2)) == 1  # the first fits, the rest are dropped
        assert journal.append(_records(4, start=5)) == 0
    depth = journal.depth()
    assert (depth.records, depth.dropped, depth.full) == (3, 6, True)
    assert _ids(journal) == ["c-0", "c-1", "c-2"]
    alarms = [r for r in caplog.records if "JOURNAL FULL" in r.getMessage()]
    assert len(alarms) == 1 and "DROPPED (2 so far)" in alarms[0].getMessage()  # once per interval


def test_the_byte_bound_counts_too(base: Path, opened: list[Journal[PendingRecord]]) -> None:
    one = len(encode_line(1, _records(1)[0].to_json()))
    journal = _open(base, max_bytes=int(one * 2.5))
    opened.append(journal)
    assert journal.append(_records(4)) == 2
    assert journal.depth().bytes <= int(one * 2.5) and journal.depth().dropped == 2


# -- group fsync ----------------------------------------------------------------------------------------


def test_records_are_fsynced_in_groups_not_one_by_one(
    base: Path, opened: list[Journal[PendingRecord]]
) -> None:
    journal = _open(base, group_ms=100.0, group_records=10_000)
    opened.append(journal)
    journal.append(_records(1))
    # The group stays open for its window: the record is not yet on disk for sure.
    assert journal.depth().unsynced == 1
    started = time.monotonic()
    for i in range(1, 40):  # ~0.4 s of one record every 10 ms
        journal.append(_records(1, start=i))
        time.sleep(0.01)
    _wait_synced(journal)
    elapsed = time.monotonic() - started
    # One fsync per 100 ms window at most (plus the last group), far from one per record.
    assert 2 <= journal.fsyncs <= elapsed / 0.1 + 2, journal.fsyncs
    assert len(_segments(journal.directory)[0].read_bytes().splitlines()) == 40


def test_a_full_group_is_fsynced_without_waiting_for_its_window(
    base: Path, opened: list[Journal[PendingRecord]]
) -> None:
    journal = _open(base, group_ms=10_000.0, group_records=5)
    opened.append(journal)
    journal.append(_records(5))
    _wait_synced(journal, timeout_s=2.0)  # long before the 10 s window
    assert journal.fsyncs == 1


# -- replay ---------------------------------------------------------------------------------------------


async def test_replay_writes_in_order_and_clears_the_disk(
    base: Path, opened: list[Journal[PendingRecord]], decisions: DecisionLog
) -> None:
    journal = _open(base)
    opened.append(journal)
    records = _records(7)
    journal.append(records)
    written: list[str] = []

    async def write(batch: list[PendingRecord]) -> Any:
        written.extend(r.comment.id or "" for r in batch)
        return await decisions.write(batch)

    assert await journal.replay_once(write, batch=3) == 3
    assert await journal.replay_once(write, batch=3) == 3
    assert await journal.replay_once(write, batch=3) == 1
    assert written == [f"c-{i}" for i in range(7)]
    assert journal.depth().records == 0 and journal.replayed == 7
    for record in records:  # the token the client got opens the status
        status = await decisions.public_status(record.comment.id or "", record.verdict.status_token or "")
        assert status.status == "pending_review"
    assert [item.comment_id for item in await decisions.queue(count=10)] == [f"c-{i}" for i in range(7)]
    await asyncio.sleep(0.2)
    _wait_synced(journal)
    assert _segments(journal.directory) == []  # drained: every segment deleted
    assert (journal.directory / "checkpoint").read_text().strip() == "7"


async def test_replaying_twice_writes_once(
    base: Path, tmp_path: Path, opened: list[Journal[PendingRecord]], decisions: DecisionLog
) -> None:
    journal = _open(base)
    journal.append(_records(3) + _records(2, start=3, kind="reject"))
    journal.close()
    copy = tmp_path / "copy"
    shutil.copytree(base, copy)  # as if a crash came before the checkpoint reached the disk

    for directory in (base, copy):
        again = _open(directory)
        opened.append(again)
        assert await again.replay_once(decisions.write, batch=100) == 5
        assert again.conflicts == 0
    page = await decisions.entries(kind=None)
    assert sorted(r.comment_id for r in page.records) == ["c-0", "c-1", "c-2", "c-3", "c-4"]
    assert await decisions.queue_size() == 3
    counts = await decisions.counts()
    assert (counts.last_hour("verdict:review"), counts.last_hour("verdict:reject")) == (3, 2)


async def test_a_restart_resumes_after_the_last_replayed_record(
    base: Path, opened: list[Journal[PendingRecord]], decisions: DecisionLog
) -> None:
    journal = _open(base)
    journal.append(_records(10))
    assert await journal.replay_once(decisions.write, batch=4) == 4
    journal.close()  # writes the checkpoint it holds
    assert (journal.directory / "checkpoint").read_text().strip() == "4"

    again = _open(base)
    opened.append(again)
    assert _ids(again) == [f"c-{i}" for i in range(4, 10)]
    written: list[str] = []

    async def write(batch: list[PendingRecord]) -> Any:
        written.extend(r.comment.id or "" for r in batch)
        return await decisions.write(batch)

    assert await again.replay_once(write, batch=100) == 6
    assert written == [f"c-{i}" for i in range(4, 10)]
    assert again._next_seq == 11  # seq numbers are never reused across restarts


async def test_records_stay_while_the_store_is_down(base: Path, opened: list[Journal[PendingRecord]]) -> None:
    journal = _open(base)
    opened.append(journal)
    journal.append(_records(3))
    down = RedisStore.from_url(f"redis://127.0.0.1:{free_port()}/0", prefix="nobody:")
    try:
        assert (
            await journal.replay_once(DecisionLog(down, max_entries=100, retention_s=60).write, batch=10) == 0
        )
    finally:
        await down.aclose()
    assert journal.depth().records == 3 and journal.replayed == 0 and journal.holding


async def test_the_replay_task_follows_appends_and_stops_cleanly(
    base: Path, opened: list[Journal[PendingRecord]], decisions: DecisionLog
) -> None:
    journal = _open(base)
    opened.append(journal)
    task = asyncio.create_task(journal.replay(decisions.write, batch=2, retry_s=0.05))
    journal.append(_records(5))
    deadline = time.monotonic() + 5
    while journal.holding:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    journal.stop()
    await asyncio.wait_for(task, 2)
    assert journal.replayed == 5 and await decisions.queue_size() == 5


def test_an_unreadable_checkpoint_replays_from_the_start(
    base: Path, opened: list[Journal[PendingRecord]]
) -> None:
    journal = _open(base)
    journal.append(_records(2))
    journal.close()
    (journal.directory / "checkpoint").write_text("garbage")
    again = _open(base)
    opened.append(again)
    assert again.depth().records == 2  # idempotent writes make the overlap harmless


def test_file_modes_are_private(base: Path, opened: list[Journal[PendingRecord]]) -> None:
    journal = _open(base)
    opened.append(journal)
    journal.append(_records(1))
    _wait_synced(journal)
    (segment,) = _segments(journal.directory)
    assert os.stat(segment).st_mode & 0o077 == 0


async def test_concurrent_adds_keep_their_order_and_hold_the_journal(
    base: Path, opened: list[Journal[PendingRecord]]
) -> None:
    journal = _open(base)
    opened.append(journal)
    batches = [_records(20, start=20 * i) for i in range(5)]
    adding = [asyncio.create_task(journal.add(batch)) for batch in batches]
    await asyncio.sleep(0)  # every add has begun; none has appended yet (the JSON is made in a thread)
    assert journal.holding and journal.depth().records == 0
    assert await asyncio.gather(*adding) == [20] * 5
    assert _ids(journal) == [f"c-{i}" for i in range(100)]


async def test_concurrent_replay_never_writes_one_comment_twice_at_once(
    base: Path, opened: list[Journal[PendingRecord]], decisions: DecisionLog
) -> None:
    journal = _open(base, key=lambda record: record.comment.id)
    opened.append(journal)
    first, second = _records(4), _records(4)  # c-0..c-3 twice: another record id, another token
    journal.append(first + second)
    calls: list[list[str]] = []

    async def write(batch: list[PendingRecord]) -> Any:
        calls.append([r.comment.id or "" for r in batch])
        return await decisions.write(batch)

    assert await journal.replay_once(write, batch=100, concurrency=4) == 4  # up to the first repeat
    assert sorted(calls) == [["c-0"], ["c-1"], ["c-2"], ["c-3"]]  # four writes at once
    assert await journal.replay_once(write, batch=100, concurrency=4) == 4
    for record in first:  # the older records keep the statuses
        await decisions.public_status(record.comment.id or "", record.verdict.status_token or "")
    assert journal.replayed == 8 and journal.conflicts == 0  # the same text again: a repeat, not a conflict
