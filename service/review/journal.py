"""The outage journal: decision records the store could not take, kept on local disk until it answers again.

    open(directory, ...)     blocking (run it in a thread): takes the directory's lock, loads what an earlier
                             process left unreplayed, starts the writer thread
    add(records)             the pipeline's, never waiting for the disk: the records' JSON is made in a
                             worker thread (`append` makes it on the caller's), then they are queued for
                             the writer thread, which writes and fsyncs them in groups (a group
                             closes after `group_ms` or `group_records`, whichever comes first); past the
                             bound they are dropped, counted and logged (an error at most once a minute)
    replay(write)            a background task: the oldest records first, `batch` at a time, through
                             `write` (DecisionLog.write, idempotent on record_id: replay twice = once),
                             `concurrency` writes at once but never two records of one comment; a batch
                             the store refuses (StoreUnavailable) stays, and is tried again
    depth()                  what /readyz and /metrics show: records, bytes, oldest age, dropped, ...
    close()                  blocking: the writer thread writes and fsyncs what it holds, then stops

On disk, in the journal's directory (0700):

    lock                     flock()ed by the process that owns the journal
    <n>.journal              segments, appended to in order; one line per record:
                                 "<seq> <length> <crc32> <json>\\n"
                             seq numbers every record of the journal in order (never reused, across
                             restarts too); length and crc32 cover the JSON's bytes, so a line torn by a crash
                             (no newline, short, or garbled) is detected and skipped, never misread
    checkpoint               the seq of the last record replayed, replaced atomically (write, fsync, rename)

A new process never appends to an old segment (its last line may be torn): it loads the records after the
checkpoint and starts a new segment. A segment is deleted once every record in it is replayed, and the
current one is closed and deleted when the journal drains. What a crash can lose: the records appended but
not yet fsynced, at most one group (`group_ms` of traffic, or `group_records` records). A crash between a
replayed batch and its checkpoint replays that batch again, which the record ids make harmless.

Every record is also held in memory (as its JSON line) until replayed, so the bound is memory as much as
disk. Not thread-safe: every method but open/close runs on one event loop. No web framework here.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from service.review.models import Recorded
from service.store.base import StoreUnavailable

log = logging.getLogger(__name__)

#: A segment is closed and a new one started past this size, so that replayed records leave the disk in
#: pieces during a long outage rather than all at its end.
SEGMENT_BYTES = 4 * 1024 * 1024
#: Journal directories tried under one deployment's folder: one per process that shares a data directory
#: (e.g. several workers); a restarted process takes the first unlocked one, its own old one included.
MAX_SLOTS = 64
#: The loud log line when records are dropped comes at most this often (the counter counts every one).
ALARM_INTERVAL_S = 60.0

_SEGMENT = re.compile(r"([0-9]{1,12})\.journal")
_LINE_HEAD = re.compile(rb"([0-9]{1,20}) ([0-9]{1,10}) ([0-9a-f]{8}) ")


class JournalError(Exception):
    """The journal cannot be opened (its directory cannot be made, or every slot is held)."""


class JournalRecord(Protocol):
    """What the journal needs of a record: its JSON line and its time."""

    @property
    def at_ms(self) -> int: ...

    def to_json(self) -> str: ...


R = TypeVar("R", bound=JournalRecord)


def deployment_directory(data_dir: Path, prefix: str) -> Path:
    """The journals' folder of the deployment under key `prefix`: a journal is only ever replayed into the
    deployment it was written for, even where several share a data directory."""
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", prefix).strip("_")[:40] or "default"
    return data_dir / "journal" / f"{readable}-{hashlib.sha256(prefix.encode()).hexdigest()[:10]}"


def encode_line(seq: int, payload: str) -> bytes:
    """One journal line; `payload` is one line of JSON."""
    if "\n" in payload or "\r" in payload:
        raise ValueError("a journal record's JSON must be one line")
    body = payload.encode("utf-8")
    return b"%d %d %08x " % (seq, len(body), _crc(seq, body)) + body + b"\n"


def decode_line(line: bytes) -> tuple[int, str] | None:
    """(seq, payload) of a whole, intact line (with its newline); None for a torn or garbled one."""
    if not line.endswith(b"\n"):
        return None
    head = _LINE_HEAD.match(line)
    if head is None:
        return None
    seq, length, crc = int(head[1]), int(head[2]), int(head[3], 16)
    body = line[head.end() : -1]
    if len(body) != length or _crc(seq, body) != crc:
        return None
    try:
        return seq, body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _crc(seq: int, body: bytes) -> int:
    return zlib.crc32(body, zlib.crc32(b"%d" % seq))


@dataclass(frozen=True, slots=True)
class JournalDepth:
    """A snapshot of the journal for health and metrics."""

    records: int
    """Records waiting to be replayed."""
    bytes: int
    """Their size on disk (and, roughly, in memory)."""
    oldest_age_s: float
    """How long the oldest waiting record has waited (0 when none waits)."""
    dropped: int
    """Records refused since start because the journal was at its bound (their verdicts went out untokened)."""
    replayed: int
    """Records written to the store by replay since start."""
    failed: int
    """Records replay gave up on since start: the store refused them for another reason than being down."""
    conflicts: int
    """Replayed records whose comment id turned out to hold another text's status (the token is not valid)."""
    corrupt: int
    """Torn or garbled lines skipped when loading the journal at start."""
    unsynced: int
    """Records appended but not yet fsynced: what a crash now would lose."""
    disk_errors: int
    """Writes or fsyncs that failed since start (the records stay in memory and are replayed all the same)."""
    max_records: int
    max_bytes: int

    @property
    def full(self) -> bool:
        return self.records >= self.max_records or self.bytes >= self.max_bytes


@dataclass(slots=True)
class _Entry:
    seq: int
    line: bytes
    at_ms: int
    segment: int


class Journal(Generic[R]):
    """See the module's docstring. Build it with `Journal.open` (blocking)."""

    def __init__(
        self,
        directory: Path,
        *,
        decode: Callable[[str], R],
        key: Callable[[R], object] | None = None,
        max_records: int,
        max_bytes: int,
        group_ms: float,
        group_records: int,
        segment_bytes: int = SEGMENT_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Use `open`; this only sets the fields."""
        self.directory = directory
        self._decode = decode
        self._key = key
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.group_s = group_ms / 1000
        self.group_records = group_records
        self.segment_bytes = segment_bytes
        self._clock = clock
        # The event loop's side: the records waiting, in order, and where new ones go.
        self._entries: deque[_Entry] = deque()
        self._bytes = 0
        self._next_seq = 1
        self._segment = 1
        self._segment_size = 0
        self._segment_last: dict[int, int] = {}  # segment -> the last seq appended to it
        self._wake = asyncio.Event()  # set by append and stop: the replay task has something to do
        self._order = asyncio.Lock()  # `add`'s callers, in order
        self._adding = 0
        self._stopped = asyncio.Event()
        self._last_alarm = float("-inf")
        self.dropped = self.replayed = self.failed = self.conflicts = self.corrupt = 0
        # The writer thread's inbox, under _cond: lines to write, a checkpoint to save, segments to delete.
        self._cond = threading.Condition()
        self._lines: list[_Entry] = []
        self._checkpoint: int | None = None
        self._delete: set[int] = set()
        self._closing = False
        self._unsynced = 0
        self.disk_errors = 0
        self.fsyncs = 0
        self._lock_fd: int | None = None
        self._thread: threading.Thread | None = None

    # -- opening and closing (blocking: run them in a thread) --------------------------------------------

    @classmethod
    def open(cls, base: Path, **options: object) -> Journal[R]:
        """The journal in the first unlocked slot under `base` (made 0700), with what an earlier process left
        there loaded. Raises JournalError. `options` are __init__'s."""
        try:
            # Each missing level made 0700 (mkdir's `parents` would make the upper ones with the umask's mode).
            for directory in [*reversed([p for p in base.parents if not p.exists()]), base]:
                directory.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise JournalError(f"cannot make the journal's directory {base}: {exc}") from exc
        for slot in range(MAX_SLOTS):
            directory = base / f"slot-{slot}"
            try:
                directory.mkdir(mode=0o700, exist_ok=True)
                fd = os.open(directory / "lock", os.O_RDWR | os.O_CREAT, 0o600)
            except OSError as exc:
                raise JournalError(f"cannot open the journal in {directory}: {exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            journal = cls(directory, **options)  # type: ignore[arg-type]
            journal._lock_fd = fd
            try:
                journal._load()
            except OSError as exc:
                journal._release()
                raise JournalError(f"cannot read the journal in {directory}: {exc}") from exc
            except BaseException:
                journal._release()
                raise
            journal._start()
            return journal
        raise JournalError(f"all {MAX_SLOTS} journal slots under {base} are held by other processes")

    def close(self) -> None:
        """Write and fsync what is queued, stop the writer thread and release the directory. Blocking."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._write_loop, name="journal-writer", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        checkpoint = self._read_checkpoint()
        segments = sorted(
            (int(m[1]), p) for p in self.directory.iterdir() if (m := _SEGMENT.fullmatch(p.name))
        )
        previous = 0
        for number, path in segments:
            kept = 0
            with path.open("rb") as lines:
                for index, line in enumerate(lines, start=1):
                    decoded = decode_line(line)
                    # seq only grows: one that doesn't is as garbled as a bad checksum.
                    if decoded is None or decoded[0] <= previous:
                        self._skip_corrupt(path, index)
                        continue
                    previous = decoded[0]
                    if decoded[0] <= checkpoint:
                        continue
                    entry = self._loaded_entry(decoded, line, number)
                    if entry is None:
                        self._skip_corrupt(path, index)
                        continue
                    self._entries.append(entry)
                    self._bytes += len(entry.line)
                    self._segment_last[number] = entry.seq
                    kept += 1
            if not kept:
                path.unlink()  # wholly replayed before the last process stopped
        self._next_seq = max(previous, checkpoint) + 1
        self._segment = (segments[-1][0] + 1) if segments else 1
        if self._entries:
            log.warning(
                "journal %s: %d decision record(s) (%d bytes) from before the restart, to be replayed",
                self.directory,
                len(self._entries),
                self._bytes,
            )
            if len(self._entries) >= self.max_records or self._bytes >= self.max_bytes:
                log.error(
                    "journal %s is loaded past its bound: new records are dropped until it drains",
                    self.directory,
                )

    def _loaded_entry(self, decoded: tuple[int, str], line: bytes, segment: int) -> _Entry | None:
        seq, payload = decoded
        try:
            record = self._decode(payload)
        except ValueError:
            return None
        return _Entry(seq, line, record.at_ms, segment)

    def _skip_corrupt(self, path: Path, index: int) -> None:
        self.corrupt += 1
        log.warning("journal %s line %d is torn or garbled: skipped", path, index)

    def _read_checkpoint(self) -> int:
        path = self.directory / "checkpoint"
        try:
            text = path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("journal checkpoint %s unreadable (%s): replaying from the start", path, exc)
            return 0
        if not text.isdigit():
            # Replaying from the start is safe (record ids make a second write a no-op), only slower.
            log.warning("journal checkpoint %s holds %r: replaying from the start", path, text[:40])
            return 0
        return int(text)

    # -- the event loop's side ----------------------------------------------------------------------------

    @property
    def full(self) -> bool:
        """Whether the journal is at its bound (a record appended now would be dropped)."""
        return len(self._entries) >= self.max_records or self._bytes >= self.max_bytes

    @property
    def holding(self) -> bool:
        """Whether records wait (then new records must queue behind them, not overtake them)."""
        return bool(self._entries) or self._adding > 0

    def append(self, records: Sequence[R], payloads: Sequence[str] | None = None) -> int:
        """Queue `records` in order; returns how many were taken: all, or those before the bound was reached
        (the rest are dropped, counted and logged). Never waits for the disk. `payloads` are the records'
        JSON when the caller made it already (`add` does, off the event loop)."""
        if payloads is None:
            payloads = [record.to_json() for record in records]
        taken = 0
        for record, payload in zip(records, payloads, strict=True):
            line = encode_line(self._next_seq, payload)
            if len(self._entries) >= self.max_records or self._bytes + len(line) > self.max_bytes:
                self._drop(len(records) - taken)
                break
            if self._segment_size >= self.segment_bytes:
                self._segment += 1
                self._segment_size = 0
            entry = _Entry(self._next_seq, line, record.at_ms, self._segment)
            self._next_seq += 1
            self._entries.append(entry)
            self._bytes += len(line)
            self._segment_size += len(line)
            self._segment_last[entry.segment] = entry.seq
            with self._cond:
                self._lines.append(entry)
                self._unsynced += 1
                self._cond.notify()
            taken += 1
        if taken:
            self._wake.set()
        return taken

    async def add(self, records: Sequence[R]) -> int:
        """`append`, with the records' JSON (~0.1 ms a record) made in a worker thread rather than on the
        event loop. Concurrent calls append in the order they were made; while one is on its way the
        journal counts as holding, so that no record overtakes it."""
        self._adding += 1
        try:
            async with self._order:  # asyncio.Lock wakes its waiters first come, first served
                payloads = await asyncio.to_thread(lambda: [record.to_json() for record in records])
                return self.append(records, payloads)
        finally:
            self._adding -= 1

    def _drop(self, count: int) -> None:
        self.dropped += count
        now = time.monotonic()
        if now - self._last_alarm >= ALARM_INTERVAL_S:
            self._last_alarm = now
            log.error(
                "JOURNAL FULL (%d records, %d bytes; bounds %d records, %d bytes): decision records are being "
                "DROPPED (%d so far); their verdicts go out without a status. The oldest waiting record is "
                "%.0f s old.",
                len(self._entries),
                self._bytes,
                self.max_records,
                self.max_bytes,
                self.dropped,
                self._oldest_age_s(),
            )

    def _oldest_age_s(self) -> float:
        if not self._entries:
            return 0.0
        return max(0.0, self._clock() - self._entries[0].at_ms / 1000)

    def depth(self) -> JournalDepth:
        with self._cond:
            unsynced, disk_errors = self._unsynced, self.disk_errors
        return JournalDepth(
            records=len(self._entries),
            bytes=self._bytes,
            oldest_age_s=self._oldest_age_s(),
            dropped=self.dropped,
            replayed=self.replayed,
            failed=self.failed,
            conflicts=self.conflicts,
            corrupt=self.corrupt,
            unsynced=unsynced,
            disk_errors=disk_errors,
            max_records=self.max_records,
            max_bytes=self.max_bytes,
        )

    async def replay(
        self,
        write: Callable[[list[R]], Awaitable[Sequence[Recorded]]],
        *,
        batch: int,
        retry_s: float,
        concurrency: int = 1,
    ) -> None:
        """Replay until `stop()`: whenever records wait, the oldest `batch` through `write`; while the store is
        down, a try every `retry_s`. A batch in flight when `stop()` comes is finished, not cut off."""
        while not self._stopped.is_set():
            if not self._entries:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                replayed = await self.replay_once(write, batch=batch, concurrency=concurrency)
            except Exception:  # a bug here must not end replay for good
                log.exception("journal replay failed")
                replayed = 0
            if replayed == 0:
                # Not woken by appends: during an outage they come with every request.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopped.wait(), retry_s)

    def stop(self) -> None:
        """Ask `replay` to return after the batch it is writing (if any)."""
        self._stopped.set()
        self._wake.set()

    async def replay_once(
        self,
        write: Callable[[list[R]], Awaitable[Sequence[Recorded]]],
        *,
        batch: int,
        concurrency: int = 1,
    ) -> int:
        """Write the oldest `batch` records waiting; returns how many left the journal (0 while the store
        is down). Records are taken off only after `write` returned, so that while a batch is in flight the
        journal still holds and new records queue behind it.

        With `concurrency` > 1 and a `key` (the comment id), the batch goes as that many concurrent `write`s;
        it then ends before a record whose key it already holds, so that two records of one comment are
        never written at once (the older first: the first writer owns the status)."""
        head = [self._entries[i] for i in range(min(batch, len(self._entries)))]
        if not head:
            return 0
        records = await asyncio.to_thread(self._decode_all, head)
        if concurrency > 1 and self._key is not None:
            head, records = self._distinct_prefix(head, records)
        present = [r for r in records if r is not None]
        size = max(1, -(-len(present) // max(1, concurrency)))
        chunks = [present[i : i + size] for i in range(0, len(present), size)]
        results = await asyncio.gather(*(write(chunk) for chunk in chunks), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if any(isinstance(f, StoreUnavailable) for f in failures):
            # What a concurrent write did manage is written again as nothing next time (record ids).
            log.debug(
                "journal replay: store unavailable, %d record(s) wait: %s", len(self._entries), failures[0]
            )
            return 0
        if failures:
            # Not the store being down: one record may be at fault. Alone, each either goes or is given up.
            log.error(
                "journal replay of %d record(s) failed (%r); retrying them one at a time",
                len(head),
                failures[0],
            )
            return await self._replay_singly(write, head, records)
        outcomes: list[Recorded | None] = [o for r in results if not isinstance(r, BaseException) for o in r]
        self._done(head, records, outcomes)
        return len(head)

    def _distinct_prefix(
        self, head: list[_Entry], records: list[R | None]
    ) -> tuple[list[_Entry], list[R | None]]:
        assert self._key is not None
        seen: set[object] = set()
        for index, record in enumerate(records):
            if record is None:
                continue
            key = self._key(record)
            if key in seen:
                return head[:index], records[:index]
            seen.add(key)
        return head, records

    async def _replay_singly(
        self,
        write: Callable[[list[R]], Awaitable[Sequence[Recorded]]],
        head: list[_Entry],
        records: list[R | None],
    ) -> int:
        done = 0
        for entry, record in zip(head, records, strict=True):
            outcome: Recorded | None = None
            if record is not None:
                try:
                    (outcome,) = await write([record])
                except StoreUnavailable:
                    break
                except Exception:
                    log.exception("journal replay gave up on record %d", entry.seq)
                    record = None
            self._done([entry], [record], [outcome])
            done += 1
        return done

    def _decode_all(self, entries: list[_Entry]) -> list[R | None]:
        decoded: list[R | None] = []
        for entry in entries:
            parsed = decode_line(entry.line)
            try:
                decoded.append(self._decode(parsed[1]) if parsed else None)
            except ValueError:
                decoded.append(None)
        return decoded

    def _done(self, head: list[_Entry], records: list[R | None], outcomes: list[Recorded | None]) -> None:
        """Take `head` off the journal (replayed, or given up: `None` records) and checkpoint past it."""
        written = iter(outcomes)
        for entry, record in zip(head, records, strict=True):
            outcome = next(written, None) if record is not None else None
            if record is None or outcome is None:
                self.failed += 1
                log.error("journal record %d could not be replayed: given up", entry.seq)
            else:
                self.replayed += 1
                if outcome.outcome == "conflict":
                    self.conflicts += 1
                    log.warning(
                        "journal record %d: comment %s holds another text's status; the token its verdict "
                        "went out with is not valid",
                        entry.seq,
                        outcome.verdict.id,
                    )
            popped = self._entries.popleft()
            assert popped is entry, "the journal's head changed under a replay"
            self._bytes -= len(entry.line)
        last = head[-1].seq
        if not self._entries:
            # Drained: the next record starts a new segment, so that every old one can go.
            self._segment += 1
            self._segment_size = 0
        finished = {s for s, seq in self._segment_last.items() if seq <= last and s != self._segment}
        for segment in finished:
            del self._segment_last[segment]
        with self._cond:
            self._checkpoint = last
            self._delete |= finished
            self._cond.notify()

    # -- the writer thread ------------------------------------------------------------------------------

    def _write_loop(self) -> None:
        files: dict[int, int] = {}  # segment -> descriptor (open for appending)
        try:
            while True:
                with self._cond:
                    while not (self._lines or self._checkpoint is not None or self._delete or self._closing):
                        self._cond.wait()
                    if self._lines and not self._closing:
                        # A group: wait for more records until the window closes or the group is full.
                        deadline = time.monotonic() + self.group_s
                        while len(self._lines) < self.group_records and not self._closing:
                            left = deadline - time.monotonic()
                            if left <= 0:
                                break
                            self._cond.wait(left)
                    lines, self._lines = self._lines, []
                    checkpoint, self._checkpoint = self._checkpoint, None
                    delete, self._delete = self._delete, set()
                    closing = self._closing
                if lines:
                    self._write_group(lines, files)
                if checkpoint is not None:
                    self._save_checkpoint(checkpoint)
                for segment in sorted(delete):
                    self._delete_segment(segment, files)
                if closing:
                    with self._cond:
                        if not (self._lines or self._checkpoint is not None or self._delete):
                            return
        finally:
            for fd in files.values():
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _write_group(self, lines: list[_Entry], files: dict[int, int]) -> None:
        touched: dict[int, int] = {}
        for entry in lines:
            try:
                fd = files.get(entry.segment)
                if fd is None:
                    fd = files[entry.segment] = self._open_segment(entry.segment, files)
                size = os.fstat(fd).st_size
                try:
                    _write_all(fd, entry.line)
                except OSError:
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)  # no half line for the next one to run into
                    raise
                touched[entry.segment] = fd
            except OSError as exc:
                self._disk_error(f"writing record {entry.seq}", exc)
        for fd in touched.values():
            try:
                os.fsync(fd)
            except OSError as exc:
                self._disk_error("fsync", exc)
        with self._cond:
            self._unsynced -= len(lines)
            self.fsyncs += 1

    def _open_segment(self, segment: int, files: dict[int, int]) -> int:
        for old in [s for s in files if s < segment]:  # segments only grow: an older one is finished
            os.close(files.pop(old))
        fd = os.open(self.directory / f"{segment}.journal", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        _fsync_directory(self.directory)  # the new file's name survives a crash too
        return fd

    def _save_checkpoint(self, seq: int) -> None:
        path, temporary = self.directory / "checkpoint", self.directory / "checkpoint.tmp"
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(fd, b"%d\n" % seq)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temporary, path)
            _fsync_directory(self.directory)
        except OSError as exc:
            self._disk_error("saving the checkpoint", exc)

    def _delete_segment(self, segment: int, files: dict[int, int]) -> None:
        fd = files.pop(segment, None)
        if fd is not None:
            os.close(fd)
        try:
            (self.directory / f"{segment}.journal").unlink(missing_ok=True)
        except OSError as exc:
            self._disk_error(f"deleting segment {segment}", exc)

    def _disk_error(self, doing: str, exc: OSError) -> None:
        with self._cond:
            self.disk_errors += 1
        log.error(
            "journal %s: %s failed (%s); records stay in memory and are replayed, but a crash would lose them",
            self.directory,
            doing,
            exc,
        )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
