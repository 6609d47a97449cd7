"""Input records: JSONL or CSV read record by record, each a `Row` to judge or a `BadRow` to report, with
the byte offset and line number just after it (what a checkpoint records), grouped into `Chunk`s.

Bytes are read as bytes and decoded here, so that one record with bytes that are not UTF-8 is refused
alone, with its line number, instead of stopping the run.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from service.moderation.types import VERDICTS
from service.rescore.errors import RescoreError

RAW_SHOWN = 200  # characters of a bad record kept in the errors file
#: Statuses of service.review.models, accepted as a previous verdict (a site's export of statuses).
STATUS_VERDICT = {
    "accepted": "accept",
    "approved": "accept",
    "rejected": "reject",
    "rejected_by_moderator": "reject",
    "pending_review": "review",
}
_BOM = b"\xef\xbb\xbf"


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


Record = tuple[Row | BadRow, int, int]
"""A record with the input's byte offset and line number just after it."""


def previous_verdict(value: Any) -> str | None:
    """The verdict a previous-verdict value stands for (a verdict or a comment status); None when empty.
    Raises ValueError for anything else."""
    if value is None or value == "":
        return None
    text = str(value).strip().lower()
    verdict = STATUS_VERDICT.get(text, text)
    if verdict not in VERDICTS:
        raise ValueError(f"previous verdict {value!r} is not one of accept, review, reject (or a status)")
    return verdict


def to_row(line: int, fields: dict[str, Any], previous_column: str) -> Row | BadRow:
    raw = json.dumps(fields, ensure_ascii=False)[:RAW_SHOWN]
    comment_id, text = fields.get("id"), fields.get("text")
    if isinstance(comment_id, int) and not isinstance(comment_id, bool):
        comment_id = str(comment_id)
    if not isinstance(comment_id, str) or not comment_id.strip():
        return BadRow(line, "no id", raw)
    if not isinstance(text, str) or not text.strip():
        return BadRow(line, "no text", raw)
    try:
        previous = previous_verdict(fields.get(previous_column))
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
        raw_text = raw[len(_BOM) :] if self.offset == 0 and raw.startswith(_BOM) else raw
        self.offset += len(raw)
        self.line += 1
        return raw_text.decode("utf-8", "surrogateescape")


def _undecodable(values: Iterable[str]) -> bool:
    return any("\udc80" <= ch <= "\udcff" for value in values for ch in value)


def read_csv_header(stream: BinaryIO) -> tuple[list[str], int, int]:
    """The header of a CSV input read from its start (a file just opened, or stdin), and the offset and line
    just after it. Raises RescoreError for an empty input or a header with bytes that are not UTF-8."""
    lines = _Lines(stream, 0, 0)
    for record in csv.reader(lines):
        if record:
            if _undecodable(record):
                raise RescoreError("the CSV header holds bytes that are not UTF-8")
            return [c.strip() for c in record], lines.offset, lines.line
    raise RescoreError("the CSV input is empty (no header)")


def read_records(
    stream: BinaryIO, fmt: str, *, offset: int, line: int, previous_column: str, header: Sequence[str] | None
) -> Iterator[Record]:
    """Each record from `offset` on (the stream stands there), with the byte offset and line after it."""
    if fmt == "jsonl":
        return _jsonl_records(stream, offset=offset, line=line, previous_column=previous_column)
    if header is None:
        raise ValueError("CSV records are read after their header (read_csv_header)")
    return _csv_records(stream, offset=offset, line=line, previous_column=previous_column, header=header)


def _jsonl_records(stream: BinaryIO, *, offset: int, line: int, previous_column: str) -> Iterator[Record]:
    while raw := stream.readline():
        raw_body = raw[len(_BOM) :] if offset == 0 and raw.startswith(_BOM) else raw
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
        yield to_row(line, value, previous_column), offset, line


def _csv_records(
    stream: BinaryIO, *, offset: int, line: int, previous_column: str, header: Sequence[str]
) -> Iterator[Record]:
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
            parsed: Row | BadRow = BadRow(start, "undecodable bytes (not UTF-8)", shown)
        elif len(record) != len(header):
            parsed = BadRow(start, f"{len(record)} fields where the header has {len(header)}", shown)
        else:
            parsed = to_row(start, dict(zip(header, record, strict=True)), previous_column)
        yield parsed, lines.offset, lines.line


def chunks(records: Iterator[Record], size: int) -> Iterator[Chunk]:
    """Records grouped by `size` good rows (bad rows ride along with the chunk they were read in)."""
    rows: list[Row] = []
    bad: list[BadRow] = []
    count = 0
    end_offset = end_line = 0
    for record, end_offset, end_line in records:
        count += 1
        if isinstance(record, Row):
            rows.append(record)
        else:
            bad.append(record)
        if len(rows) >= size:
            yield Chunk(rows, bad, count, end_offset, end_line)
            rows, bad, count = [], [], 0
    if count:
        yield Chunk(rows, bad, count, end_offset, end_line)
