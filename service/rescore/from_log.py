"""Rescoring the decision log (`--from-log`): the logged verdicts re-judged, newest first, each comment once.

Nothing is written to Redis, not even a counter — except with `--apply`, which records each changed verdict
through the DecisionLog (`rerecord`), but never over a moderator's decision (approved, rejected_by_moderator)
and not for a comment whose status has expired: the store tests and writes each status in one step, so a
moderator deciding during the run keeps the decision.

Entries whose text the log cut (past MODERATION_LOG_TEXT_MAX_CHARS) are not re-judged: the cut text is not
the comment, and its verdict could be another.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from service import runtime
from service.config import Settings
from service.moderation.types import Comment, Verdict
from service.rescore.errors import RescoreError, raise_if_stopped
from service.rescore.judges import Judge, ScorerFactory
from service.rescore.options import Options, format_of
from service.rescore.output import RESULT_COLUMNS, Sink, Summary, Writer, result_fields
from service.rescore.records import Row, previous_verdict
from service.review.log import DecisionLog
from service.store.base import LogCursor, Store

#: A moderator's decision stands: --apply never records a verdict over it.
MODERATOR_STATUSES = ("approved", "rejected_by_moderator")


async def _apply(
    decisions: DecisionLog, changed: list[tuple[Row, Any, dict[str, Any]]], summary: Summary
) -> None:
    statuses = await decisions.statuses([row.id for row, _, _ in changed])
    comments, new = [], []
    for row, record, verdict in changed:
        status = statuses.get(row.id)
        if status in MODERATOR_STATUSES:
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
                    site=record.site,
                )
            )
            new.append(Verdict.model_validate(verdict))
    if comments:
        recorded = await decisions.rerecord(comments, new)
        summary.applied += recorded
        # Checked above, refused at the write: a moderator decided (or the status expired) in between.
        summary.skipped_moderator += len(comments) - recorded


async def rescore_log(
    settings: Settings,
    opts: Options,
    *,
    apply: bool,
    limit: int | None,
    scorer_factory: ScorerFactory | None = None,
    store: Store | None = None,
) -> Summary:
    """Re-judge the decision log's verdict entries (newest first, each comment once) and report what would
    change. With `apply`, record each changed verdict through the DecisionLog — but never over a moderator's
    decision (approved, rejected_by_moderator), and not for comments whose status has expired. `store`: the
    caller's (left open), else one opened on REDIS_URL (closed here)."""
    if store is None and not settings.REDIS_URL:
        raise RescoreError("--from-log reads the decision log in Redis: set REDIS_URL")
    out_fmt = format_of(opts.output, opts.output_format, "jsonl") if opts.output else "jsonl"
    summary = Summary()
    # Whatever goes wrong (a model that does not load, Redis gone, Ctrl-C), what was opened here is closed
    # before the exception leaves: the output synced and closed, the judge, then a store opened here.
    async with contextlib.AsyncExitStack() as resources:
        if store is None:
            store = runtime.open_store(settings)
            resources.push_async_callback(store.aclose)
        judge = Judge(settings, batch_size=opts.batch_size, scorer_factory=scorer_factory)
        resources.callback(judge.close)
        decisions = runtime.decision_log(settings, store)
        out = Sink(Path(opts.output), 0) if opts.output and opts.output != "-" else None
        if out is not None:
            resources.callback(out.close)
            resources.callback(out.sync)
        writer = Writer(out_fmt, None if out_fmt == "jsonl" else ["id", "text", "logged_at", *RESULT_COLUMNS])
        seen: set[str] = set()
        cursor: LogCursor | None = None
        while True:
            page = await decisions.entries(before=cursor, kind="verdict", page_size=opts.batch_size)
            rows: list[tuple[Row, Any]] = []
            for record in page.records:
                if record.comment_id in seen or not record.text:
                    continue
                if record.text_omitted:
                    seen.add(record.comment_id)
                    summary.skipped_cut += 1
                    continue
                seen.add(record.comment_id)
                fields = {"id": record.comment_id, "text": record.text, "logged_at": record.at.isoformat()}
                rows.append(
                    (Row(0, record.comment_id, record.text, previous_verdict(record.verdict), fields), record)
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
                    await _apply(decisions, changed, summary)
            raise_if_stopped()  # a SIGTERM whose KeyboardInterrupt was lost (service.rescore.errors)
            if page.next_before is None or (limit is not None and len(seen) >= limit):
                break
            cursor = page.next_before
    print(summary.render(None), file=sys.stderr)
    if opts.summary_json:
        summary.write_json(opts.summary_json)
    return summary
