"""A real `moderation rescore` process, interrupted (SIGKILL, then Ctrl-C) and run again with the same
arguments, ends with exactly the rows of an uninterrupted run: none missing, none twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.model.demo import build_tiny_checkpoint
from service.rescore.errors import EXIT_CHANGED, EXIT_INTERRUPTED
from service.rescore.options import Options
from service.rescore.run import rescore_file
from tests.support.rescore import comments, read_jsonl
from tests.support.settings import make_settings

pytestmark = pytest.mark.slow

ROWS = 1500
BATCH = 40


@contextlib.contextmanager
def _process(command: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose pipes are closed when the block ends, killed first if it still runs (a test that fails
    halfway neither waits on it nor leaves its pipes to the garbage collector)."""
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()


def _wait_for_progress(proc: subprocess.Popen[bytes], progress: Path, at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.stderr.read()!r}"
        try:
            records = json.loads(progress.read_text())["summary"]["records"]
        except (OSError, ValueError, KeyError):
            records = 0
        if records >= at_least:
            return records
        time.sleep(0.05)
    raise AssertionError("no progress recorded within 120 s")


def test_killed_and_interrupted_run_resumes_to_the_uninterrupted_output(tmp_path: Path) -> None:
    model = build_tiny_checkpoint(tmp_path / "model")
    rows = comments(ROWS)
    lines = [json.dumps(r) for r in rows]
    lines[17] = "{not json"  # bad rows, before and after the interruptions
    lines[1400] = json.dumps({"id": "x", "text": ""})
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")

    expected = tmp_path / "expected.jsonl"
    settings = make_settings(MODEL_PATH=model, MODEL_THREADS=1)
    rescore_file(settings, Options(input=str(src), output=str(expected), batch_size=BATCH, progress=False))

    out = tmp_path / "out.jsonl"
    progress = tmp_path / "out.jsonl.progress"
    env = {
        **os.environ,
        "MODERATION_MODEL_PATH": str(model),
        "MODERATION_MODEL_THREADS": "1",
        "MODERATION_LOG_LEVEL": "WARNING",
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "service",
        "rescore",
        str(src),
        "-o",
        str(out),
        "--batch-size",
        str(BATCH),
    ]

    with _process(command, env) as killed:
        first = _wait_for_progress(killed, progress, BATCH * 2)
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert first < ROWS
    # A chunk half-written when the process died: the resumed run must cut it off.
    with out.open("ab") as f:
        f.write(b'{"id": "torn", "text": "half a ro')

    with _process(command, env) as interrupted:
        second = _wait_for_progress(interrupted, progress, first + BATCH * 2)
        interrupted.send_signal(signal.SIGINT)
        _, err = interrupted.communicate(timeout=60)
    assert interrupted.returncode == EXIT_INTERRUPTED, err.decode()
    assert b"run the same command again to resume" in err
    assert json.loads(progress.read_text())["summary"]["records"] < ROWS

    done = subprocess.run(command, env=env, capture_output=True, timeout=300)
    assert done.returncode == EXIT_CHANGED, done.stderr.decode()
    assert b"resuming after" in done.stderr or second  # resumed, not restarted
    assert not progress.exists()

    got, want = read_jsonl(out), read_jsonl(expected)
    assert [r["id"] for r in got] == [r["id"] for r in want]  # none missing, none twice, same order
    assert len(got) == ROWS - 2
    for g, w in zip(got, want, strict=True):
        assert (g["verdict"], g["changed"], [r["code"] for r in g["reasons"]]) == (
            w["verdict"],
            w["changed"],
            [r["code"] for r in w["reasons"]],
        )
        # Scores of a batch-padded model may differ in the last float bits between batch compositions.
        assert g["scores"] == pytest.approx(w["scores"], abs=1e-5)
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [e["line"] for e in errors] == [18, 1401]
    assert "1500 records read, 1498 judged, 2 bad" in done.stderr.decode()
