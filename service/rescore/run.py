"""Rescoring a file: input records in chunks through a judge, output and errors written, checkpoints after each.

    INPUT (JSONL or CSV: id, text, optionally a previous verdict, other columns kept)
      │  read record by record, bad records → errors file with their line numbers      (records.py)
      ▼
    chunks of --batch-size records ──► JudgeRunner: runtime.pipeline(cache=False, no decision log)
      │                                   in process (two chunks in flight: word lists overlap the model),
      │                                   or --workers N processes, or Ray Data actors (--ray)   (judges.py)
      ▼
    OUTPUT (JSONL or CSV: input columns + verdict, previous_verdict, changed, clauses, reasons, scores, …)
      after each chunk: output and errors flushed + fsynced, THEN OUTPUT.progress replaced (fsynced)
                                                                                            (output.py)

Resuming: OUTPUT.progress records the input byte offset and line after the last complete chunk, the output
and errors files' sizes at that moment, and the summary so far, under a fingerprint of the run (input file
identity, formats, previous-verdict column, and the pipeline's identity: policy, word lists and model). Run
again with the same arguments and the output and errors files are cut back to the recorded sizes (a
half-written chunk disappears) and reading goes on at the recorded offset: no row missing, none twice. The
progress file is removed when the run completes. Stdin input, or output to stdout, cannot be resumed.

The verdict cache is neither read nor written (an archive must not fill the service's cache), and nothing is
recorded in the decision log.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO

from service.config import Settings
from service.rescore.errors import RescoreError, raise_if_stopped
from service.rescore.judges import ScorerFactory, make_judge
from service.rescore.options import Options, format_of
from service.rescore.output import (
    RESULT_COLUMNS,
    Progress,
    Sink,
    Summary,
    Writer,
    result_fields,
    write_json_atomically,
)
from service.rescore.records import chunks, read_csv_header, read_records

log = logging.getLogger("service.rescore")

PROGRESS_VERSION = 1


def _fingerprint(opts: Options, in_fmt: str, out_fmt: str, identity: dict[str, str]) -> str:
    st = os.stat(opts.input)
    value = {
        "input": os.path.realpath(opts.input), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino,
        "input_format": in_fmt, "output_format": out_fmt, "previous_column": opts.previous_column,
        **identity,
    }  # fmt: skip
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


def _open_input(path: str) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as exc:
        raise RescoreError(f"cannot read {path}: {exc}") from exc


def _resumed(progress_path: Path, fingerprint: str, restart: bool) -> dict[str, Any] | None:
    """The interrupted run recorded in `progress_path` when it is this run's; None to start from the top.
    Raises RescoreError for an unreadable progress file or one of another run (unless `restart`)."""
    if not progress_path.exists():
        return None
    try:
        saved: dict[str, Any] = json.loads(progress_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RescoreError(f"{progress_path} is unreadable ({exc}); pass --restart to start over") from exc
    if restart:
        log.warning("--restart: discarding the interrupted run recorded in %s", progress_path)
        return None
    if saved.get("version") != PROGRESS_VERSION or saved.get("fingerprint") != fingerprint:
        raise RescoreError(
            f"{progress_path} records an interrupted run with other arguments, another input file "
            "(or one changed since), or other rules or model; run it again exactly as before to "
            "resume it, or pass --restart to start over"
        )
    return saved


def rescore_file(
    settings: Settings, opts: Options, *, scorer_factory: ScorerFactory | None = None
) -> Summary:
    """Rescore `opts.input` into `opts.output`; resumes an interrupted run with the same arguments.

    Raises RescoreError (usage/input), RescoreFailed (model failure), KeyboardInterrupt (resumable)."""
    from_stdin = opts.input == "-"
    in_fmt = format_of(opts.input, opts.input_format, "jsonl" if from_stdin else None)
    out_fmt = format_of(opts.output, opts.output_format, in_fmt)
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

    # Whatever goes wrong from here on (a judge that cannot start, a refused progress file, a failed batch,
    # Ctrl-C), everything opened is closed before the exception leaves, in reverse order.
    with contextlib.ExitStack() as resources:
        # The input is opened before the judge is built: an unreadable input is refused without the seconds
        # a model takes to load.
        stream = sys.stdin.buffer if from_stdin else resources.enter_context(_open_input(opts.input))
        judge = make_judge(
            settings,
            workers=opts.workers,
            ray=opts.ray,
            ray_window=opts.ray_window,
            batch_size=opts.batch_size,
            scorer_factory=scorer_factory,
        )
        resources.callback(judge.close)
        resumed: dict[str, Any] | None = None
        fingerprint = ""
        if progress_path is not None:
            fingerprint = _fingerprint(opts, in_fmt, out_fmt, judge.identity)
            resumed = _resumed(progress_path, fingerprint, opts.restart)
        summary = Summary.from_json(resumed["summary"]) if resumed else Summary()
        header: list[str] | None = None
        offset = line = 0
        if in_fmt == "csv":
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

        with contextlib.ExitStack() as files:
            out = Sink(out_path, resumed["output_offset"] if resumed else 0)
            files.callback(out.close)
            writer = Writer(out_fmt, out_header, header_written=out.offset > 0)
            if errors_path is not None and not resumed and errors_path.exists():
                errors_path.unlink()
            errs = (
                Sink(errors_path, resumed["errors_offset"] if resumed else 0, lazy=True)
                if errors_path
                else None
            )
            if errs is not None:
                files.callback(errs.close)

            def save_progress(chunk_offset: int, chunk_line: int) -> None:
                if progress_path is None:
                    return
                write_json_atomically(progress_path, {
                    "version": PROGRESS_VERSION, "fingerprint": fingerprint, "input": opts.input,
                    "input_offset": chunk_offset, "input_line": chunk_line,
                    "output_offset": out.offset, "errors_offset": errs.offset if errs else 0,
                    "output_header": writer.header, "summary": summary.to_json(),
                })  # fmt: skip

            if not resumed:
                save_progress(offset, line)  # before the output is cut: a crash now resumes from the start
            total = None if from_stdin else os.fstat(stream.fileno()).st_size
            progress = Progress(total, offset, summary.records, enabled=opts.progress)
            files.callback(progress.close)
            records = read_records(
                stream, in_fmt, offset=offset, line=line, previous_column=opts.previous_column, header=header
            )
            started = time.perf_counter() - summary.elapsed_s
            # closing: chunks still in flight are cancelled now, not whenever the generator is collected.
            judged = files.enter_context(contextlib.closing(judge.map(chunks(records, opts.batch_size))))
            for chunk, verdicts in judged:
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
                raise_if_stopped()  # an interrupt whose KeyboardInterrupt was lost: stop here, resumable
            raise_if_stopped()  # (one recorded after the last chunk's check, while the chunks' iterator closed)
        if progress_path is not None:
            progress_path.unlink(missing_ok=True)
        if opts.summary_json:
            summary.write_json(opts.summary_json)
        print(summary.render(errors_path if summary.bad else None), file=sys.stderr)
        return summary
