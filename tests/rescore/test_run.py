"""Rescoring a file (`rescore_file`): round trips, bad rows, the summary, workers, the API's verdicts, what is
refused, and what is closed when a run cannot start."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import types
from pathlib import Path

import pytest

from service.model.base import ModelLoadError
from service.rescore.errors import RescoreError, RescoreFailed, clear_stop, request_stop
from service.rescore.options import Options
from service.rescore.run import rescore_file
from tests.support.rescore import TEXTS, comments, read_csv, read_jsonl, write_csv, write_jsonl
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings


def _run(tmp_path: Path, src: Path, out: Path, **kw):
    opts = Options(input=str(src), output=str(out), progress=False, **kw)
    return rescore_file(make_settings(), opts, scorer_factory=MarkerScorer)


def test_jsonl_round_trip_matches_the_api(tmp_path: Path, make_client) -> None:
    rows = comments(40)
    src = write_jsonl(tmp_path / "in.jsonl", rows)
    summary = _run(tmp_path, src, tmp_path / "out.jsonl", batch_size=7)
    out = read_jsonl(tmp_path / "out.jsonl")
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert [r["site"] for r in out] == [r["site"] for r in rows]  # other columns pass through
    assert [r["verdict"] for r in out] == [TEXTS[i % len(TEXTS)][1] for i in range(40)]
    assert [r["previous_verdict"] for r in out] == [r["verdict"] for r in rows]
    assert [r["changed"] for r in out] == [
        r["verdict"] != o["verdict"] for r, o in zip(rows, out, strict=True)
    ]
    # Same text, policy and model → the same verdict, reasons and scores as POST /v1/moderate.
    client = make_client(MarkerScorer())
    for row, got in zip(rows[:5], out[:5], strict=True):
        api = client.post("/v1/moderate", json={"id": row["id"], "text": row["text"]}).json()
        assert (got["verdict"], got["reasons"], got["scores"]) == (
            api["verdict"],
            api["reasons"],
            api["scores"],
        )
    assert summary.verdicts == {"accept": 16, "review": 8, "reject": 16}
    assert summary.changed == 16 and summary.unchanged == 24 and summary.bad == 0
    assert summary.changes == {"accept->reject": 8, "reject->accept": 8}  # the 0.6 insult stays review
    assert all(len(v) == 3 for v in summary.examples.values())
    assert not (tmp_path / "out.jsonl.progress").exists()  # removed once the run is complete


def test_csv_round_trip_and_rescoring_its_own_output(tmp_path: Path) -> None:
    rows = comments(12)
    rows[3]["text"] = 'A "quoted", multi-line\ncomment [[insult=0.9]]'
    src = write_csv(tmp_path / "in.csv", rows)
    summary = _run(tmp_path, src, tmp_path / "out.csv", batch_size=5)
    out = read_csv(tmp_path / "out.csv")
    assert [r["id"] for r in out] == [r["id"] for r in rows]
    assert out[3]["text"] == rows[3]["text"] and out[3]["verdict"] == "reject"
    assert out[3]["clauses"] == "personal" and json.loads(out[3]["reasons"])[0]["category"] == "insult"
    assert set(json.loads(out[0]["scores"])) >= {"insult", "threat"}
    assert [r["changed"] for r in out] == [
        "true" if r["verdict"] != o["verdict"] else "false" for r, o in zip(rows, out, strict=True)
    ]
    assert summary.judged == 12
    # The output is a valid input: rescored under the same rules, nothing changes.
    again = _run(tmp_path, tmp_path / "out.csv", tmp_path / "again.csv")
    assert again.changed == 0 and again.unchanged == 12
    assert [r["verdict"] for r in read_csv(tmp_path / "again.csv")] == [r["verdict"] for r in out]


def test_jsonl_in_csv_out(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", comments(6))
    _run(tmp_path, src, tmp_path / "out.csv")
    out = read_csv(tmp_path / "out.csv")
    assert [r["id"] for r in out] == [f"c{i}" for i in range(6)] and out[1]["verdict"] == "reject"


def test_bad_rows_go_to_the_errors_file_with_line_numbers(tmp_path: Path) -> None:
    good = comments(3)
    lines = [
        json.dumps(good[0]).encode(),
        b"{broken json",
        json.dumps({"id": "x1", "text": "   "}).encode(),
        b'{"id": "x2", "text": "caf\xe9"}',
        b"",
        json.dumps(good[1]).encode(),
        json.dumps({"text": "no id here"}).encode(),
        json.dumps({"id": "x3", "text": "t", "verdict": "maybe"}).encode(),
        b"[1, 2]",
        json.dumps(good[2]).encode(),
    ]
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    summary = _run(tmp_path, src, tmp_path / "out.jsonl", batch_size=2)
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["c0", "c1", "c2"]
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [(e["line"], e["error"].split(":")[0].split(" (")[0]) for e in errors] == [
        (2, "broken JSON"),
        (3, "no text"),
        (4, "undecodable bytes"),
        (7, "no id"),
        (8, "previous verdict 'maybe' is not one of accept, review, reject"),
        (9, "a JSON list, not an object"),
    ]
    assert summary.bad == 6 and summary.records == 9 and summary.judged == 3


def test_bad_csv_rows(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(
        b"id,text,verdict\n1,hello,accept\n2,caf\xe9,accept\n3,,reject\n4,too,many,fields\n"
        b'5,"multi\nline",accept\n6,fine,accept\n'
    )
    summary = _run(tmp_path, src, tmp_path / "out.csv")
    assert [r["id"] for r in read_csv(tmp_path / "out.csv")] == ["1", "5", "6"]
    errors = read_jsonl(tmp_path / "out.csv.errors.jsonl")
    assert [(e["line"], e["error"]) for e in errors] == [
        (3, "undecodable bytes (not UTF-8)"),
        (4, "no text"),
        (5, "4 fields where the header has 3"),
    ]
    assert summary.bad == 3


@pytest.mark.slow
def test_workers_give_the_same_output_in_order(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", comments(60))
    _run(tmp_path, src, tmp_path / "one.jsonl", batch_size=8)
    _run(tmp_path, src, tmp_path / "two.jsonl", batch_size=8, workers=2)
    assert (tmp_path / "two.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()


def test_a_progress_file_of_another_run_is_refused(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", comments(5))
    (tmp_path / "out.jsonl.progress").write_text(json.dumps({"version": 1, "fingerprint": "other"}))
    with pytest.raises(RescoreError, match="--restart"):
        _run(tmp_path, src, tmp_path / "out.jsonl")
    summary = _run(tmp_path, src, tmp_path / "out.jsonl", restart=True)
    assert summary.judged == 5 and len(read_jsonl(tmp_path / "out.jsonl")) == 5


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_a_csv_header_that_is_not_utf8_is_refused_from_stdin_as_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str
) -> None:
    data = b"id,text,pr\xe9c\xe9dent\n1,hello,accept\n"  # a column the run would not even read
    if source == "stdin":
        monkeypatch.setattr(sys, "stdin", types.SimpleNamespace(buffer=io.BytesIO(data)))
        src = "-"
    else:
        src = str(tmp_path / "in.csv")
        Path(src).write_bytes(data)
    opts = Options(input=src, input_format="csv", output=str(tmp_path / "out.csv"), progress=False)
    with pytest.raises(RescoreError, match=r"^the CSV header holds bytes that are not UTF-8$"):
        rescore_file(make_settings(), opts, scorer_factory=MarkerScorer)


def _open_paths() -> set[str]:
    fds = Path("/proc/self/fd")
    out = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            out.add(os.readlink(fd))
    return out


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd (Linux)")
def test_the_input_is_closed_when_the_judge_cannot_start(tmp_path: Path) -> None:
    # Closed at once, not when the garbage collector gets to it (a ResourceWarning in some later test).
    src = write_jsonl(tmp_path / "in.jsonl", comments(3))

    def no_model() -> MarkerScorer:
        raise ModelLoadError("unbiased", "no weights here")

    with pytest.raises(ModelLoadError) as caught:
        opts = Options(input=str(src), output=str(tmp_path / "out.jsonl"), progress=False)
        rescore_file(make_settings(), opts, scorer_factory=no_model)
    assert (
        caught.value is not None
    )  # the exception (and its frames) still alive: the file must be closed anyway
    assert str(src) not in _open_paths()


class _FailsAfter(MarkerScorer):
    """Scores its first `calls` batches, then fails as a model that ran out of memory would."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.allowed = calls

    def score(self, texts):
        if len(self.calls) >= self.allowed:
            raise RuntimeError("simulated inference failure")
        return super().score(texts)


def test_a_failed_run_resumes_under_the_same_pipeline_only(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "in.jsonl", comments(30))
    _run(tmp_path, src, tmp_path / "expected.jsonl", batch_size=4)
    out = tmp_path / "out.jsonl"
    with pytest.raises(RescoreFailed):
        rescore_file(
            make_settings(),
            Options(input=str(src), output=str(out), batch_size=4, progress=False),
            scorer_factory=lambda: _FailsAfter(2),
        )
    saved = json.loads((tmp_path / "out.jsonl.progress").read_text())
    assert 0 < saved["summary"]["records"] < 30
    # Another model (another pipeline identity) must not continue this run's output.
    with pytest.raises(RescoreError, match="other rules or model"):
        rescore_file(
            make_settings(),
            Options(input=str(src), output=str(out), batch_size=4, progress=False),
            scorer_factory=lambda: MarkerScorer(model_id="marker:111111111111"),
        )
    summary = _run(tmp_path, src, out, batch_size=4)
    assert out.read_bytes() == (tmp_path / "expected.jsonl").read_bytes()
    assert summary.records == 30 and summary.judged == 30


class _InterruptLostAt(MarkerScorer):
    """Ctrl-C arriving while Python runs a finalizer during its `batch`-th batch: the command's handler
    records the interrupt, and its KeyboardInterrupt is dropped ("Exception ignored in ... __del__")."""

    def __init__(self, batch: int) -> None:
        super().__init__()
        self.batch = batch

    def score(self, texts):
        if len(self.calls) + 1 == self.batch:

            class Finalized:
                def __del__(self) -> None:
                    request_stop()  # what cli._raise_interrupt does before raising
                    raise KeyboardInterrupt

            Finalized()  # collected at once: its KeyboardInterrupt goes to sys.unraisablehook, not to us
        return super().score(texts)


def test_an_interrupt_lost_in_a_finalizer_still_stops_the_run_resumably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: None)  # (the "Exception ignored" report)
    src = write_jsonl(tmp_path / "in.jsonl", comments(30))
    _run(tmp_path, src, tmp_path / "expected.jsonl", batch_size=4)
    out = tmp_path / "out.jsonl"
    opts = Options(input=str(src), output=str(out), batch_size=4, progress=False)
    try:
        with pytest.raises(KeyboardInterrupt):
            rescore_file(make_settings(), opts, scorer_factory=lambda: _InterruptLostAt(3))
    finally:
        clear_stop()
    saved = json.loads((tmp_path / "out.jsonl.progress").read_text())
    # Stopped at a chunk boundary soon after (the judge scores a few chunks ahead of the writes), not at the end.
    assert 12 <= saved["summary"]["records"] < 30
    summary = _run(tmp_path, src, out, batch_size=4)
    assert out.read_bytes() == (tmp_path / "expected.jsonl").read_bytes()
    assert summary.records == 30
