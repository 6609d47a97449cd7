"""`moderation rescore`: re-judge comments in bulk on the API's own pipeline, and say which verdicts change.

    INPUT (JSONL or CSV: id, text, optionally a previous verdict, other columns kept)
      │  read record by record, bad records → errors file with their line numbers
      ▼
    chunks of --batch-size records ──► Judge: runtime.pipeline(cache=False, no decision log)
      │                                   in process (two chunks in flight: word lists overlap the model),
      │                                   or --workers N processes, or Ray Data actors (--ray)
      ▼
    OUTPUT (JSONL or CSV: input columns + verdict, previous_verdict, changed, clauses, reasons, scores, …)
      after each chunk: output and errors flushed + fsynced, THEN OUTPUT.progress replaced (fsynced)

Resuming: OUTPUT.progress records the input byte offset and line after the last complete chunk, the output
and errors files' sizes at that moment, and the summary so far, under a fingerprint of the run (input file
identity, formats, previous-verdict column, policy, word lists and model). Run again with the same arguments
and the output and errors files are cut back to the recorded sizes (a half-written chunk disappears) and
reading goes on at the recorded offset: no row missing, none twice. The progress file is removed when the
run completes. Stdin input, or output to stdout, cannot be resumed.

The verdict cache is neither read nor written (an archive must not fill the service's cache), and nothing is
recorded in the decision log — except `--from-log --apply`, which records the changed verdicts.

Exit statuses (the `diff` convention, for a policy repository's CI):
    0    done, no verdict changed        (rows without a previous verdict never count as changed)
    1    done, at least one verdict changed
    2    usage or input error: bad arguments, unreadable input, a progress file of another run
    3    the run failed (the model failed on a batch, Redis unavailable for --from-log); resumable
    130  interrupted (Ctrl-C or SIGTERM); resumable
Bad rows do not change the exit status; the summary counts them.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import json
import logging
import os
import signal
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from service.config import Settings
from service.moderation.types import VERDICTS

log = logging.getLogger("service.rescore")

EXIT_SAME, EXIT_CHANGED, EXIT_USAGE, EXIT_FAILED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
PROGRESS_VERSION = 1
DEFAULT_BATCH_SIZE = 256
DEFAULT_EXAMPLES = 3
DEFAULT_RAY_WINDOW = 50_000
RAW_SHOWN = 200  # characters of a bad record kept in the errors file
#: Statuses of service.review.models, accepted as a previous verdict (a site's export of statuses).
STATUS_VERDICT = {
    "accepted": "accept",
    "approved": "accept",
    "rejected": "reject",
    "rejected_by_moderator": "reject",
    "pending_review": "review",
}
RESULT_COLUMNS = (
    "previous_verdict", "verdict", "changed", "clauses", "reasons", "notice", "scores", "policy_version", "model",
)  # fmt: skip

ScorerFactory = Callable[[], Any]
"""Builds a scorer (tests pass a picklable one; the command loads the model named by Settings)."""


class RescoreError(Exception):
    """A usage or input problem (exit 2)."""


class RescoreFailed(Exception):
    """The run could not go on (exit 3); what was written so far stays resumable."""


# -- records ---------------------------------------------------------------------------------------------


@dataclass
class Row:
    line: int
    id: str
    text: str
    previous: str | None
    fields: dict[str, Any]


@dataclass
class BadRow:
    line: int
    error: str
    raw: str


@dataclass
class Chunk:
    """Consecutive input records and where the input stands after the last of them."""

    rows: list[Row]
    bad: list[BadRow]
    records: int  # good and bad
    end_offset: int
    end_line: int


def _previous(value: Any) -> str | None:
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    verdict = STATUS_VERDICT.get(text, text)
    if verdict not in VERDICTS:
        raise ValueError(f"previous verdict {value!r} is not one of accept, review, reject (or a status)")
    return verdict


def _row(line: int, fields: dict[str, Any], previous_column: str) -> Row | BadRow:
    raw = json.dumps(fields, ensure_ascii=False)[:RAW_SHOWN]
    comment_id, text = fields.get("id"), fields.get("text")
    if isinstance(comment_id, int) and not isinstance(comment_id, bool):
        comment_id = str(comment_id)
    if not isinstance(comment_id, str) or not comment_id.strip():
        return BadRow(line, "no id", raw)
    if not isinstance(text, str) or not text.strip():
        return BadRow(line, "no text", raw)
    try:
        previous = _previous(fields.get(previous_column))
    except ValueError as exc:
        return BadRow(line, str(exc), raw)
    return Row(line, comment_id, text, previous, fields)


class _Lines:
    """Binary lines of a stream, counting bytes and lines, decoded for the csv module (undecodable bytes are
    kept as lone surrogates so that the record they belong to can be refused whole)."""

    def __init__(self, stream: BinaryIO, offset: int, line: int) -> None:
        self.stream, self.offset, self.line = stream, offset, line

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        raw = self.stream.readline()
        if not raw:
            raise StopIteration
        if self.offset == 0 and raw.startswith(b"\xef\xbb\xbf"):
            raw_text = raw[3:]
        else:
            raw_text = raw
        self.offset += len(raw)
        self.line += 1
        return raw_text.decode("utf-8", "surrogateescape")


def _undecodable(values: Iterable[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


def read_csv_header(stream: BinaryIO) -> tuple[list[str], int, int]:
    """The header of a CSV input, and the offset and line just after it."""
    stream.seek(0)
    lines = _Lines(stream, 0, 0)
    for record in csv.reader(lines):
        if record:
            if _undecodable(record):
                raise RescoreError("the CSV header holds bytes that are not UTF-8")
            return [c.strip() for c in record], lines.offset, lines.line
    raise RescoreError("the CSV input is empty (no header)")


def read_records(
    stream: BinaryIO, fmt: str, *, offset: int, line: int, previous_column: str, header: Sequence[str] | None
) -> Iterator[tuple[Row | BadRow, int, int]]:
    """Each record from `offset` on, with the input's byte offset and line number just after it."""
    if fmt == "jsonl":
        while raw := stream.readline():
            if offset == 0 and raw.startswith(b"\xef\xbb\xbf"):
                raw_body = raw[3:]
            else:
                raw_body = raw
            offset += len(raw)
            line += 1
            if not raw_body.strip():
                continue
            shown = raw_body.decode("utf-8", "replace").rstrip("\r\n")[:RAW_SHOWN]
            try:
                text = raw_body.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadRow(line, f"undecodable bytes (not UTF-8) at byte {exc.start}", shown), offset, line
                continue
            try:
                value = json.loads(text)
            except ValueError as exc:
                yield BadRow(line, f"broken JSON: {exc}", shown), offset, line
                continue
            if not isinstance(value, dict):
                yield BadRow(line, f"a JSON {type(value).__name__}, not an object", shown), offset, line
                continue
            yield _row(line, value, previous_column), offset, line
        return
    assert header is not None
    lines = _Lines(stream, offset, line)
    reader = csv.reader(lines)
    while True:
        start = lines.line + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(start, f"broken CSV: {exc}", ""), lines.offset, lines.line
            continue
        if not record or (len(record) == 1 and not record[0].strip()):
            continue
        shown = ",".join(record).encode("utf-8", "surrogateescape").decode("utf-8", "replace")[:RAW_SHOWN]
        if _undecodable(record):
            yield BadRow(start, "undecodable bytes (not UTF-8)", shown), lines.offset, lines.line
        elif len(record) != len(header):
            yield (
                BadRow(start, f"{len(record)} fields where the header has {len(header)}", shown),
                lines.offset,
                lines.line,
            )
        else:
            yield (
                _row(start, dict(zip(header, record, strict=True)), previous_column),
                lines.offset,
                lines.line,
            )


def chunks(records: Iterator[tuple[Row | BadRow, int, int]], size: int) -> Iterator[Chunk]:
    """Records grouped by `size` good rows (bad rows ride along with the chunk they were read in)."""
    rows: list[Row] = []
    bad: list[BadRow] = []
    count = 0
    end_offset = end_line = 0
    for record, end_offset, end_line in records:
        count += 1
        (rows if isinstance(record, Row) else bad).append(record)  # type: ignore[arg-type]
        if len(rows) >= size:
            yield Chunk(rows, bad, count, end_offset, end_line)
            rows, bad, count = [], [], 0
    if count:
        yield Chunk(rows, bad, count, end_offset, end_line)


# -- judging -------------------------------------------------------------------------------------------


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
        from service import runtime
        from service.store.memory import MemoryStore

        settings = _rescoring_settings(settings, batch_size)
        policy, wordlists = runtime.load_rules(settings, watch=False)
        scorer = scorer_factory() if scorer_factory is not None else runtime.load_model(settings, threads)
        runtime.warn_missing_categories(policy, scorer)
        self.pipeline = runtime.pipeline(
            settings,
            policy=policy,
            wordlists=wordlists,
            scorer=scorer,
            store=MemoryStore(max_entries=1),
            cache=False,
        )
        # The same identity the verdict cache keys on: what the resume fingerprint must hold fixed.
        self.identity = self.pipeline.identity().as_dict()
        self.loop = asyncio.new_event_loop()

    async def ajudge(self, comments: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        from service.moderation.types import Comment

        verdicts = await self.pipeline.moderate([Comment(id=i, text=t) for i, t in comments])
        if self.pipeline.model_enabled and any(
            r.code == "model_unavailable" for v in verdicts for r in v.reasons
        ):
            # The service falls back to review; a rescoring run must not record that as the new verdict.
            raise RescoreFailed(
                "the toxicity model failed on a batch (see the log above); nothing of it was written"
            )
        return [v.model_dump(mode="json") for v in verdicts]

    def judge(self, comments: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        return self.loop.run_until_complete(self.ajudge(comments))

    def map(self, chunk_iter: Iterator[Chunk]) -> Iterator[tuple[Chunk, list[dict[str, Any]]]]:
        """Verdicts per chunk, in order, with the next chunk's word-list work overlapping this one's model."""
        pending: deque[tuple[Chunk, asyncio.Task[list[dict[str, Any]]]]] = deque()
        try:
            for chunk in chunk_iter:
                task = self.loop.create_task(self.ajudge([(r.id, r.text) for r in chunk.rows]))
                pending.append((chunk, task))
                if len(pending) >= 2:
                    done, task = pending.popleft()
                    yield done, self.loop.run_until_complete(task)
            while pending:
                done, task = pending.popleft()
                yield done, self.loop.run_until_complete(task)
        finally:
            for _, task in pending:
                task.cancel()

    def close(self) -> None:
        self.pipeline.close()
        if not self.loop.is_running():
            # Let the cancelled micro-batcher task finish its cancellation before the loop goes.
            tasks = asyncio.all_tasks(self.loop)
            if tasks:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
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


def _worker_judge_chunk(comments: list[tuple[str, str]]) -> list[dict[str, Any]]:
    assert _worker_judge is not None
    return _worker_judge.judge(comments)


class PoolJudge:
    """`--workers N`: chunks judged in N processes, results taken back in input order, 2N chunks in flight."""

    def __init__(
        self, settings: Settings, workers: int, *, batch_size: int, scorer_factory: ScorerFactory | None
    ) -> None:
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
        self.identity = self.pool.submit(_worker_identity).result()

    def map(self, chunk_iter: Iterator[Chunk]) -> Iterator[tuple[Chunk, list[dict[str, Any]]]]:
        pending: deque[tuple[Chunk, Future[list[dict[str, Any]]]]] = deque()
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
    """`--ray ADDRESS`: chunks judged by Ray Data `map_batches` on an actor pool (`service.rescore.ray`)."""

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
        from service.rescore import ray as rescore_ray

        self.runner = rescore_ray.RayRunner(
            settings, address, actors=actors, batch_size=batch_size, scorer_factory=scorer_factory
        )
        self.window = window
        self.identity = self.runner.identity

    def map(self, chunk_iter: Iterator[Chunk]) -> Iterator[tuple[Chunk, list[dict[str, Any]]]]:
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

    def _run(self, window: list[Chunk]) -> Iterator[tuple[Chunk, list[dict[str, Any]]]]:
        results = self.runner.judge([(r.id, r.text) for c in window for r in c.rows])
        for chunk in window:
            yield chunk, [next(results) for _ in chunk.rows]

    def close(self) -> None:
        self.runner.close()


# -- output, errors, progress -------------------------------------------------------------------------------


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def result_fields(row: Row, verdict: dict[str, Any]) -> dict[str, Any]:
    new = verdict["verdict"]
    return {
        "previous_verdict": row.previous,
        "verdict": new,
        "changed": None if row.previous is None else row.previous != new,
        "clauses": ",".join(sorted({r["clause"] for r in verdict.get("reasons", []) if r.get("clause")})),
        "reasons": verdict.get("reasons", []),
        "notice": verdict.get("notice"),
        "scores": verdict.get("scores", {}),
        "policy_version": verdict.get("policy_version"),
        "model": verdict.get("model"),
    }


class Writer:
    """Encodes output records as JSONL or CSV bytes (the header, for CSV, is fixed by the first row)."""

    def __init__(self, fmt: str, header: list[str] | None, *, header_written: bool = False) -> None:
        self.fmt = fmt
        self.header = header
        self.header_written = header_written
        self._warned_extra = False

    def encode(self, records: list[dict[str, Any]]) -> bytes:
        if self.fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for record in records:
            if self.header is None:
                self.header = list(record)
            if not self.header_written:
                self.header_written = True
                writer.writerow(self.header)
            elif not self._warned_extra and set(record) - set(self.header):
                self._warned_extra = True
                log.warning(
                    "CSV output: columns not in the first row are dropped: %s",
                    ", ".join(sorted(set(record) - set(self.header))),
                )
            writer.writerow([_csv_value(record.get(c)) for c in self.header])
        return out.getvalue().encode("utf-8")


class Sink:
    """An output file written at a known size: opened at `offset` (cut back to it), fsynced on request."""

    def __init__(self, path: Path | None, offset: int, *, lazy: bool = False) -> None:
        self.path = path
        self.offset = offset
        self._file: BinaryIO | None = None
        if path is not None:
            if path.exists():
                self._open()
            elif not lazy:
                self._open()

    def _open(self) -> BinaryIO:
        assert self.path is not None
        if self._file is None:
            f = open(self.path, "r+b" if self.path.exists() else "w+b")
            f.truncate(self.offset)  # a chunk written after the last recorded progress disappears
            f.seek(self.offset)
            self._file = f
        return self._file

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.path is None:
            sys.stdout.buffer.write(data)
        else:
            self._open().write(data)
        self.offset += len(data)

    def sync(self) -> None:
        if self.path is None:
            sys.stdout.buffer.flush()
        elif self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _write_json_atomically(path: Path, value: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)  # the rename itself must survive a crash
    finally:
        os.close(fd)


# -- summary -------------------------------------------------------------------------------------------


@dataclass
class Summary:
    records: int = 0
    judged: int = 0
    bad: int = 0
    verdicts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(VERDICTS, 0))
    without_previous: int = 0
    changes: dict[str, int] = field(default_factory=dict)  # "accept->reject" -> count
    examples: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    unchanged: int = 0
    # --from-log --apply
    applied: int = 0
    skipped_moderator: int = 0
    skipped_unknown: int = 0
    elapsed_s: float = 0.0  # judging and writing, setup (model and word-list loading) left out

    @property
    def changed(self) -> int:
        return sum(self.changes.values())

    def add(self, comment_id: str, text: str, previous: str | None, new: str, examples: int) -> None:
        self.judged += 1
        self.verdicts[new] = self.verdicts.get(new, 0) + 1
        if previous is None:
            self.without_previous += 1
        elif previous == new:
            self.unchanged += 1
        else:
            pair = f"{previous}->{new}"
            self.changes[pair] = self.changes.get(pair, 0) + 1
            shown = self.examples.setdefault(pair, [])
            if len(shown) < examples:
                shown.append({"id": comment_id, "text": text[:120]})

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "changed": self.changed}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Summary:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in value.items() if k in names})

    def render(self, errors_path: Path | None) -> str:
        lines = [
            f"rescore: {self.records} records read, {self.judged} judged, {self.bad} bad"
            + (f" (see {errors_path})" if self.bad and errors_path else "")
        ]
        if self.elapsed_s:
            lines[0] += f" in {self.elapsed_s:.1f} s ({self.judged / self.elapsed_s:.0f} rows/s)"
        lines.append("verdicts: " + "  ".join(f"{v} {self.verdicts.get(v, 0)}" for v in VERDICTS))
        with_previous = self.judged - self.without_previous
        lines.append(
            f"changed: {self.changed} of {with_previous} with a previous verdict"
            + (f" ({self.without_previous} had none)" if self.without_previous else "")
        )
        if self.changes:
            lines.append(f"  {'previous -> new':<20}{'count':>8}  examples")
            for pair, count in sorted(self.changes.items(), key=lambda kv: (-kv[1], kv[0])):
                shown = "; ".join(f"{e['id']}: {e['text'][:50]!r}" for e in self.examples.get(pair, []))
                lines.append(f"  {pair.replace('->', ' -> '):<20}{count:>8}  {shown}")
        if self.applied or self.skipped_moderator or self.skipped_unknown:
            lines.append(
                f"applied: {self.applied} new verdicts recorded; kept {self.skipped_moderator} decided "
                f"by a moderator, {self.skipped_unknown} whose status has expired"
            )
        return "\n".join(lines)


# -- progress display ---------------------------------------------------------------------------------


class Progress:
    """A tqdm bar on a terminal (bytes of input, so it has an ETA; rows in its postfix); log lines otherwise."""

    def __init__(
        self,
        total_bytes: int | None,
        start_bytes: int,
        start_rows: int,
        *,
        enabled: bool,
        every_s: float = 10.0,
    ) -> None:
        self.total, self.start_bytes, self.done_bytes = total_bytes, start_bytes, start_bytes
        self.start_rows, self.started = start_rows, time.monotonic()
        self.enabled, self.every_s, self.last_log = enabled, every_s, time.monotonic()
        self.bar: Any = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(
                total=total_bytes,
                initial=start_bytes,
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                desc="rescore",
                dynamic_ncols=True,
            )

    def update(self, offset: int, rows: int) -> None:
        if self.bar is not None:
            self.bar.update(offset - self.done_bytes)
            self.bar.set_postfix_str(f"{rows} rows", refresh=False)
        self.done_bytes = offset
        now = time.monotonic()
        if self.bar is None and self.enabled and now - self.last_log >= self.every_s:
            self.last_log = now
            elapsed = max(now - self.started, 1e-9)
            msg = f"rescore: {rows} rows, {(rows - self.start_rows) / elapsed:.0f} rows/s"
            if self.total and offset > self.start_bytes:
                eta = elapsed * (self.total - offset) / (offset - self.start_bytes)
                msg += f", {offset / self.total:.1%} of the input, ETA {time.strftime('%H:%M:%S', time.gmtime(eta))}"
            log.info(msg)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# -- the run -------------------------------------------------------------------------------------------


@dataclass
class Options:
    input: str = "-"
    output: str | None = None
    input_format: str | None = None
    output_format: str | None = None
    previous_column: str = "verdict"
    errors: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    workers: int = 1
    ray: str | None = None
    ray_window: int = DEFAULT_RAY_WINDOW
    restart: bool = False
    examples: int = DEFAULT_EXAMPLES
    progress: bool = True
    summary_json: str | None = None


def _format_of(path: str | None, given: str | None, fallback: str | None) -> str:
    if given:
        return given
    if path and path != "-":
        suffix = Path(path).suffix.lower()
        if suffix in (".jsonl", ".ndjson", ".json"):
            return "jsonl"
        if suffix == ".csv":
            return "csv"
    if fallback:
        return fallback
    raise RescoreError(f"cannot tell the format of {path or 'stdin'}; pass --format jsonl or csv")


def _fingerprint(opts: Options, in_fmt: str, out_fmt: str, identity: dict[str, str]) -> str:
    st = os.stat(opts.input)
    value = {
        "input": os.path.realpath(opts.input), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino,
        "input_format": in_fmt, "output_format": out_fmt, "previous_column": opts.previous_column,
        **identity,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _make_judge(settings: Settings, opts: Options, scorer_factory: ScorerFactory | None) -> Any:
    if opts.ray:
        return RayJudge(
            settings,
            opts.ray,
            actors=opts.workers,
            batch_size=opts.batch_size,
            window=opts.ray_window,
            scorer_factory=scorer_factory,
        )
    if opts.workers > 1:
        return PoolJudge(settings, opts.workers, batch_size=opts.batch_size, scorer_factory=scorer_factory)
    return Judge(settings, batch_size=opts.batch_size, scorer_factory=scorer_factory)


def rescore_file(
    settings: Settings, opts: Options, *, scorer_factory: ScorerFactory | None = None
) -> Summary:
    """Rescore `opts.input` into `opts.output`; resumes an interrupted run with the same arguments.

    Raises RescoreError (usage/input), RescoreFailed (model failure), KeyboardInterrupt (resumable)."""
    from_stdin = opts.input == "-"
    in_fmt = _format_of(opts.input, opts.input_format, "jsonl" if from_stdin else None)
    out_fmt = _format_of(opts.output, opts.output_format, in_fmt)
    if opts.batch_size < 1 or opts.workers < 1:
        raise RescoreError("--batch-size and --workers must be at least 1")
    out_path = Path(opts.output) if opts.output and opts.output != "-" else None
    if out_path is not None and not from_stdin and os.path.realpath(out_path) == os.path.realpath(opts.input):
        raise RescoreError("the output must not be the input file")
    errors_path = (
        Path(opts.errors)
        if opts.errors
        else (out_path.with_name(out_path.name + ".errors.jsonl") if out_path else None)
    )
    progress_path = out_path.with_name(out_path.name + ".progress") if out_path and not from_stdin else None
    if out_path is not None and from_stdin:
        log.warning("input from stdin: this run cannot be resumed if interrupted")
    if out_path is None and not from_stdin:
        log.warning("output to stdout: this run cannot be resumed if interrupted")

    try:
        stream: BinaryIO = sys.stdin.buffer if from_stdin else open(opts.input, "rb")
    except OSError as exc:
        raise RescoreError(f"cannot read {opts.input}: {exc}") from exc

    judge = _make_judge(settings, opts, scorer_factory)
    try:
        resumed: dict[str, Any] | None = None
        fingerprint = ""
        if progress_path is not None:
            fingerprint = _fingerprint(opts, in_fmt, out_fmt, judge.identity)
            if progress_path.exists():
                try:
                    saved = json.loads(progress_path.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise RescoreError(
                        f"{progress_path} is unreadable ({exc}); pass --restart to start over"
                    ) from exc
                if opts.restart:
                    log.warning("--restart: discarding the interrupted run recorded in %s", progress_path)
                elif saved.get("version") != PROGRESS_VERSION or saved.get("fingerprint") != fingerprint:
                    raise RescoreError(
                        f"{progress_path} records an interrupted run with other arguments, another input file "
                        "(or one changed since), or other rules or model; run it again exactly as before to "
                        "resume it, or pass --restart to start over"
                    )
                else:
                    resumed = saved
        summary = Summary.from_json(resumed["summary"]) if resumed else Summary()
        header: list[str] | None = None
        offset = line = 0
        if in_fmt == "csv":
            if from_stdin:
                header, offset, line = _stdin_csv_header(stream)
            else:
                header, offset, line = read_csv_header(stream)
            if "text" not in header or "id" not in header:
                raise RescoreError(f"the CSV header has no id or text column: {header}")
        if resumed:
            offset, line = resumed["input_offset"], resumed["input_line"]
            log.info("resuming after %d records (line %d) of %s", summary.records, line, opts.input)
        if not from_stdin:
            stream.seek(offset)
        out_header = resumed.get("output_header") if resumed else None
        if out_fmt == "csv" and out_header is None and header is not None:
            out_header = header + [c for c in RESULT_COLUMNS if c not in header]
        out = Sink(out_path, resumed["output_offset"] if resumed else 0)
        writer = Writer(out_fmt, out_header, header_written=out.offset > 0)
        if errors_path is not None and not resumed and errors_path.exists():
            errors_path.unlink()
        errs = (
            Sink(errors_path, resumed["errors_offset"] if resumed else 0, lazy=True) if errors_path else None
        )

        def save_progress(chunk_offset: int, chunk_line: int) -> None:
            if progress_path is None:
                return
            _write_json_atomically(progress_path, {
                "version": PROGRESS_VERSION, "fingerprint": fingerprint, "input": opts.input,
                "input_offset": chunk_offset, "input_line": chunk_line,
                "output_offset": out.offset, "errors_offset": errs.offset if errs else 0,
                "output_header": writer.header, "summary": summary.to_json(),
            })  # fmt: skip

        if not resumed:
            save_progress(offset, line)  # before the output is cut: a crash now resumes from the start
        total = None if from_stdin else os.fstat(stream.fileno()).st_size
        progress = Progress(total, offset, summary.records, enabled=opts.progress)
        records = read_records(
            stream, in_fmt, offset=offset, line=line, previous_column=opts.previous_column, header=header
        )
        started = time.perf_counter() - summary.elapsed_s
        try:
            for chunk, verdicts in judge.map(chunks(records, opts.batch_size)):
                out_records = []
                for row, verdict in zip(chunk.rows, verdicts, strict=True):
                    extra = result_fields(row, verdict)
                    out_records.append({**row.fields, **extra})
                    summary.add(row.id, row.text, row.previous, extra["verdict"], opts.examples)
                out.write(writer.encode(out_records))
                for bad in chunk.bad:
                    summary.bad += 1
                    entry = {"line": bad.line, "error": bad.error, "raw": bad.raw}
                    if errs is not None:
                        errs.write((json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8"))
                    else:
                        log.warning("line %d: %s", bad.line, bad.error)
                summary.records += chunk.records
                summary.elapsed_s = time.perf_counter() - started
                # The crux of resuming: rows on disk first, then the progress that points past them.
                out.sync()
                if errs is not None:
                    errs.sync()
                save_progress(chunk.end_offset, chunk.end_line)
                progress.update(chunk.end_offset, summary.records)
        finally:
            progress.close()
            out.close()
            if errs is not None:
                errs.close()
        if progress_path is not None:
            progress_path.unlink(missing_ok=True)
        if opts.summary_json:
            Path(opts.summary_json).write_text(json.dumps(summary.to_json(), indent=2), encoding="utf-8")
        summary_path = errors_path if summary.bad else None
        print(summary.render(summary_path), file=sys.stderr)
        return summary
    finally:
        judge.close()
        if not from_stdin:
            stream.close()


def _stdin_csv_header(stream: BinaryIO) -> tuple[list[str], int, int]:
    lines = _Lines(stream, 0, 0)
    for record in csv.reader(lines):
        if record:
            return [c.strip() for c in record], lines.offset, lines.line
    raise RescoreError("the CSV input is empty (no header)")


# -- --from-log ------------------------------------------------------------------------------------------


async def rescore_log(
    settings: Settings,
    opts: Options,
    *,
    apply: bool,
    limit: int | None,
    scorer_factory: ScorerFactory | None = None,
    store: Any = None,
) -> Summary:
    """Re-judge the decision log's verdict entries (newest first, each comment once) and report what would
    change. With `apply`, record each changed verdict through the DecisionLog — but never over a moderator's
    decision (approved, rejected_by_moderator), and not for comments whose status has expired."""
    from service import runtime
    from service.moderation.types import Comment, Verdict
    from service.store import open_store

    if store is None:
        if not settings.REDIS_URL:
            raise RescoreError("--from-log reads the decision log in Redis: set REDIS_URL")
        store = open_store(settings.REDIS_URL)
        owned = True
    else:
        owned = False
    judge = Judge(settings, batch_size=opts.batch_size, scorer_factory=scorer_factory)
    decisions = runtime.decision_log(settings, store)
    out_fmt = _format_of(opts.output, opts.output_format, "jsonl") if opts.output else "jsonl"
    out = Sink(Path(opts.output), 0) if opts.output and opts.output != "-" else None
    writer = Writer(out_fmt, None if out_fmt == "jsonl" else ["id", "text", "logged_at", *RESULT_COLUMNS])
    summary = Summary()
    seen: set[str] = set()
    cursor: str | None = None
    try:
        while True:
            page = await decisions.entries(before=cursor, kind="verdict", page_size=opts.batch_size)
            rows = []
            for record in page.records:
                if record.comment_id in seen or not record.text:
                    continue
                seen.add(record.comment_id)
                fields = {"id": record.comment_id, "text": record.text, "logged_at": record.at.isoformat()}
                rows.append(
                    (Row(0, record.comment_id, record.text, _previous(record.verdict), fields), record)
                )
                if limit is not None and len(seen) >= limit:
                    break
            if rows:
                verdicts = await judge.ajudge([(r.id, r.text) for r, _ in rows])
                changed: list[tuple[Row, Any, dict[str, Any]]] = []
                out_records = []
                for (row, record), verdict in zip(rows, verdicts, strict=True):
                    summary.records += 1
                    extra = result_fields(row, verdict)
                    summary.add(row.id, row.text, row.previous, extra["verdict"], opts.examples)
                    out_records.append({**row.fields, **extra})
                    if extra["changed"]:
                        changed.append((row, record, verdict))
                if out is not None:
                    out.write(writer.encode(out_records))
                if apply and changed:
                    statuses = await decisions.statuses([row.id for row, _, _ in changed])
                    comments, new = [], []
                    for row, record, verdict in changed:
                        status = statuses.get(row.id)
                        if status in ("approved", "rejected_by_moderator"):
                            summary.skipped_moderator += 1
                        elif status is None:
                            summary.skipped_unknown += 1
                        else:
                            comments.append(
                                Comment(
                                    id=row.id,
                                    text=row.text,
                                    article_id=record.article_id,
                                    author_id=record.author_id,
                                )
                            )
                            new.append(Verdict.model_validate(verdict))
                    if comments:
                        await decisions.record(comments, new)
                        summary.applied += len(comments)
            if page.next_before is None or (limit is not None and len(seen) >= limit):
                break
            cursor = page.next_before
    finally:
        if out is not None:
            out.sync()
            out.close()
        judge.pipeline.close()
        judge.loop.close()
        if owned:
            await store.aclose()
    print(summary.render(None), file=sys.stderr)
    if opts.summary_json:
        Path(opts.summary_json).write_text(json.dumps(summary.to_json(), indent=2), encoding="utf-8")
    return summary


# -- the command -----------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "rescore",
        help="re-judge comments in bulk (a JSONL/CSV file or the decision log) and report what changes",
        description=__doc__.split("\n\n")[0],
        epilog=(
            "exit status: 0 no verdict changed, 1 some verdict changed, 2 usage or input error, "
            "3 the run failed (resumable), 130 interrupted (resumable). Bad rows go to the errors file and "
            "do not change the exit status. An interrupted run with an output file resumes when run again "
            "with the same arguments; stdin input or stdout output cannot be resumed."
        ),
    )
    p.add_argument(
        "input",
        nargs="?",
        default="-",
        metavar="INPUT",
        help="JSONL or CSV file of comments (id, text, optionally a previous verdict); - for stdin",
    )
    p.add_argument(
        "-o",
        "--output",
        default=None,
        help="output file (JSONL or CSV, by its extension); default stdout (not resumable)",
    )
    p.add_argument(
        "--format",
        dest="input_format",
        choices=("jsonl", "csv"),
        default=None,
        help="input format (default: from the extension; jsonl for stdin)",
    )
    p.add_argument(
        "--output-format",
        choices=("jsonl", "csv"),
        default=None,
        help="output format (default: from the output's extension, else the input's)",
    )
    p.add_argument(
        "--previous-column",
        default="verdict",
        help="the input column holding the previous verdict (default: %(default)s); accept, "
        "review, reject or a comment status (accepted, rejected, approved, ...)",
    )
    p.add_argument(
        "--errors", default=None, help="errors file (default: OUTPUT.errors.jsonl; stderr without -o)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_SIZE,
        help="comments per chunk handed to the pipeline, and per checkpoint (default: %(default)s)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own model (default 1: in this process); with --ray, "
        "the number of Ray actors",
    )
    p.add_argument(
        "--ray",
        default=None,
        metavar="ADDRESS",
        help="score on a Ray cluster through Ray Data (ADDRESS, or 'auto' for a local runtime); "
        "needs the 'ray' extra: pip install 'comment-moderation[ray]'",
    )
    p.add_argument(
        "--ray-window",
        type=int,
        default=DEFAULT_RAY_WINDOW,
        help="rows handed to Ray Data at a time (bounds the driver's memory; default %(default)s)",
    )
    p.add_argument(
        "--restart", action="store_true", help="discard an interrupted run's progress and start over"
    )
    p.add_argument(
        "--examples", type=int, default=DEFAULT_EXAMPLES, help="examples per change in the summary"
    )
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar or lines")
    p.add_argument("--summary-json", default=None, metavar="PATH", help="also write the summary as JSON")
    p.add_argument(
        "--from-log",
        action="store_true",
        help="re-judge the Redis decision log (REDIS_URL) instead of a file; writes nothing to Redis",
    )
    p.add_argument(
        "--apply",
        action="store_true",
        help="with --from-log: record the changed verdicts (never over a moderator's decision)",
    )
    p.add_argument("--limit", type=int, default=None, help="with --from-log: at most this many comments")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from service.config import get_settings

    settings = get_settings()
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=settings.LOG_LEVEL,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    opts = Options(**{k: getattr(args, k) for k in Options.__dataclass_fields__})
    # SIGTERM (a scheduler stopping the job) is handled like Ctrl-C: the run stops between writes, resumable.
    previous_term = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if args.apply and not args.from_log:
            raise RescoreError("--apply goes with --from-log")
        if args.from_log:
            summary = asyncio.run(rescore_log(settings, opts, apply=args.apply, limit=args.limit))
        else:
            summary = rescore_file(settings, opts)
    except RescoreError as exc:
        print(f"moderation rescore: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RescoreFailed as exc:
        print(f"moderation rescore: {exc}; run the same command again to resume", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("moderation rescore: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        from service.model.base import ModelLoadError
        from service.moderation.policy import PolicyError
        from service.store.base import StoreUnavailable
        from service.wordlist.rules import WordListError

        if isinstance(exc, PolicyError | WordListError | ModelLoadError):
            print(f"moderation rescore: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, StoreUnavailable):
            print(f"moderation rescore: Redis unavailable: {exc}", file=sys.stderr)
            return EXIT_FAILED
        raise
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    return EXIT_CHANGED if summary.changed else EXIT_SAME


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


__all__ = ["Judge", "Options", "Summary", "register", "rescore_file", "rescore_log", "run"]
