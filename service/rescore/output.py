"""What a rescoring run writes: output records (JSONL or CSV), files written at a known size (the output, the
errors file, the progress file), the summary it prints, and the progress it shows while it runs.

Every output file is written so that a checkpoint can name its size: `Sink` opens a file cut back to the
size recorded, and the progress file is replaced atomically, never half-written.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from service.moderation.types import VERDICTS
from service.rescore.records import Row

log = logging.getLogger("service.rescore")

RESULT_COLUMNS = (
    "previous_verdict", "verdict", "changed", "clauses", "reasons", "notice", "scores", "policy_version", "model",
)  # fmt: skip


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def result_fields(row: Row, verdict: dict[str, Any]) -> dict[str, Any]:
    """The RESULT_COLUMNS of a row judged `verdict` (the API's verdict as JSON)."""
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
    """An output file written at a known size: opened at `offset` (cut back to it), fsynced on request.
    No path: stdout. `lazy`: a file that does not exist yet is made by the first write (no empty errors
    file after a run without bad rows)."""

    def __init__(self, path: Path | None, offset: int, *, lazy: bool = False) -> None:
        self.path = path
        self.offset = offset
        self._file: BinaryIO | None = None
        if path is not None and (path.exists() or not lazy):
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


def write_json_atomically(path: Path, value: dict[str, Any]) -> None:
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
    skipped_cut: int = 0  # --from-log: entries whose text the log cut, not re-judged
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

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")

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
        if self.skipped_cut:
            lines.append(f"skipped: {self.skipped_cut} logged with their text cut (not the comment as sent)")
        return "\n".join(lines)


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
            # Imported only for a bar on a terminal: batch jobs and `moderation --help` never pay for it.
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
