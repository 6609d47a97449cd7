"""Input records: the one CSV header reader (files and stdin alike), offsets a run can resume from, chunks,
previous verdicts."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest

from service.rescore.errors import RescoreError
from service.rescore.records import (
    BadRow,
    Row,
    chunks,
    previous_verdict,
    read_csv_header,
    read_records,
)


@pytest.fixture
def pipe_of() -> Iterator:
    """A non-seekable stream holding the given bytes, as stdin is (closed after the test)."""
    opened: list[BinaryIO] = []

    def make(data: bytes) -> BinaryIO:
        read_fd, write_fd = os.pipe()
        os.write(write_fd, data)  # small enough for the pipe's buffer
        os.close(write_fd)
        stream = open(read_fd, "rb")
        opened.append(stream)
        return stream

    yield make
    for stream in opened:
        stream.close()


def _file(tmp_path: Path, data: bytes) -> BinaryIO:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    return path.open("rb")


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_the_csv_header_reads_the_same_from_a_file_and_from_stdin(tmp_path: Path, pipe_of, source) -> None:
    data = b'\xef\xbb\xbfid, text ,"a\nb"\n1,hello,x\n'
    stream = _file(tmp_path, data) if source == "file" else pipe_of(data)
    with stream:
        header, offset, line = read_csv_header(stream)
        assert header == ["id", "text", "a\nb"]  # BOM dropped, names stripped, a quoted newline kept
        assert (offset, line) == (len(b'\xef\xbb\xbfid, text ,"a\nb"\n'), 2)
        rows = list(
            read_records(stream, "csv", offset=offset, line=line, previous_column="verdict", header=header)
        )
    assert [(r.id, r.text, end_line) for r, _, end_line in rows] == [("1", "hello", 3)]


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_csv_header_that_is_not_utf8_is_refused_from_a_file_and_from_stdin(
    tmp_path: Path, pipe_of, source
) -> None:
    data = b"id,t\xe9xt\n1,hello\n"
    stream = _file(tmp_path, data) if source == "file" else pipe_of(data)
    with stream, pytest.raises(RescoreError, match="the CSV header holds bytes that are not UTF-8"):
        read_csv_header(stream)


def test_an_empty_csv_input_is_refused(pipe_of) -> None:
    with pytest.raises(RescoreError, match="empty"):
        read_csv_header(pipe_of(b"\n\n"))


def test_jsonl_offsets_resume_where_the_record_ended() -> None:
    data = b'\xef\xbb\xbf{"id": "1", "text": "a"}\n\n{"id": "2", "text": "b"}\n{"id": "3", "text": "c"}\n'
    records = list(
        read_records(io.BytesIO(data), "jsonl", offset=0, line=0, previous_column="verdict", header=None)
    )
    assert [(r.id, end_line) for r, _, end_line in records] == [("1", 1), ("2", 3), ("3", 4)]
    _, offset, line = records[1]
    stream = io.BytesIO(data)
    stream.seek(offset)
    rest = list(
        read_records(stream, "jsonl", offset=offset, line=line, previous_column="verdict", header=None)
    )
    assert [(r.id, r.line) for r, _, _ in rest] == [("3", 4)]
    assert rest[0][1] == len(data)


def test_chunks_count_good_rows_and_carry_the_bad_ones_along() -> None:
    def good(n: int) -> Row:
        return Row(n, str(n), "t", None, {})

    records = [(good(1), 10, 1), (BadRow(2, "no id", ""), 20, 2), (good(3), 30, 3), (good(4), 40, 4)]
    got = list(chunks(iter(records), 2))
    assert [([r.id for r in c.rows], [b.line for b in c.bad], c.records, c.end_offset) for c in got] == [
        (["1", "3"], [2], 3, 30),
        (["4"], [], 1, 40),
    ]


def test_previous_verdicts_and_statuses() -> None:
    assert [previous_verdict(v) for v in ("", None, " Reject ", "approved", "pending_review")] == [
        None,
        None,
        "reject",
        "accept",
        "review",
    ]
    with pytest.raises(ValueError, match="not one of accept, review, reject"):
        previous_verdict("maybe")
