"""What a run writes: files at a known size (what resuming relies on), CSV output, result columns, summary."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from service.rescore.output import RESULT_COLUMNS, Sink, Summary, Writer, result_fields, write_json_atomically
from service.rescore.records import Row


def test_a_sink_cuts_its_file_back_to_the_recorded_size(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(b"kept\nhalf a ro")
    sink = Sink(path, len(b"kept\n"))
    try:
        sink.write(b"next\n")
        sink.sync()
    finally:
        sink.close()
    assert path.read_bytes() == b"kept\nnext\n"
    assert sink.offset == len(b"kept\nnext\n")


def test_a_lazy_sink_makes_no_file_until_it_is_written(tmp_path: Path) -> None:
    path = tmp_path / "errors.jsonl"
    sink = Sink(path, 0, lazy=True)
    sink.sync()
    sink.close()
    assert not path.exists()
    sink = Sink(path, 0, lazy=True)
    try:
        sink.write(b"{}\n")
    finally:
        sink.close()
    assert path.read_bytes() == b"{}\n"


def test_the_progress_file_is_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "out.progress"
    write_json_atomically(path, {"n": 1})
    write_json_atomically(path, {"n": 2})
    assert json.loads(path.read_text()) == {"n": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.progress"]  # no temporary file left


def test_csv_output_keeps_the_first_rows_columns(caplog: pytest.LogCaptureFixture) -> None:
    writer = Writer("csv", None)
    first = writer.encode([{"id": "1", "changed": True, "scores": {"insult": 0.5}, "notice": None}])
    with caplog.at_level(logging.WARNING, logger="service.rescore"):
        later = writer.encode([{"id": "2", "changed": False, "extra": "x"}, {"id": "3", "extra": "y"}])
    assert first == b'id,changed,scores,notice\n1,true,"{""insult"":0.5}",\n'
    assert later == b"2,false,,\n3,,,\n"  # no second header; unknown columns dropped
    assert [r.getMessage() for r in caplog.records] == [
        "CSV output: columns not in the first row are dropped: extra"
    ]  # said once


def test_result_fields() -> None:
    verdict = {
        "verdict": "reject",
        "reasons": [{"clause": "personal"}, {"clause": "obscene"}, {"clause": "personal"}],
        "notice": "n",
        "scores": {"insult": 0.9},
        "policy_version": "p",
        "model": "m",
    }
    fields = result_fields(Row(1, "c1", "t", "accept", {}), verdict)
    assert list(fields) == list(RESULT_COLUMNS)
    assert (fields["changed"], fields["clauses"]) == (True, "obscene,personal")
    assert result_fields(Row(1, "c1", "t", None, {}), verdict)["changed"] is None  # nothing to compare


def test_the_summary_survives_a_progress_file_and_says_what_changed(tmp_path: Path) -> None:
    summary = Summary(records=4, bad=1)
    summary.add("a", "fine", "accept", "accept", examples=1)
    summary.add("b", "rude", "accept", "reject", examples=1)
    summary.add("c", "ruder", "accept", "reject", examples=1)
    summary.add("d", "new", None, "review", examples=1)
    again = Summary.from_json(json.loads(json.dumps(summary.to_json())))
    assert again == summary and again.changed == 2
    text = summary.render(tmp_path / "errors.jsonl")
    assert text.splitlines()[:3] == [
        f"rescore: 4 records read, 4 judged, 1 bad (see {tmp_path / 'errors.jsonl'})",
        "verdicts: accept 1  review 1  reject 2",
        "changed: 2 of 3 with a previous verdict (1 had none)",
    ]
    assert "accept -> reject" in text and "b: 'rude'" in text and "c: " not in text  # one example asked
