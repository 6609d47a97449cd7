"""What the fault run (tests/e2e/chaos.py) and the soak (tests/e2e/soak.py) share: a Redis that survives its
own SIGKILL, `moderation serve` as a process that can be killed and started again, the comments the load
sends, and the check that nothing the service answered was lost.

Self-contained on purpose: no service but the ones started here, a Redis of their own on a free port (never
the machine's 6379), every file in a temporary directory, the results as JSON under CHAOS_RESULTS_DIR
(default artifacts/chaos/, git-ignored).

Redis persistence: AOF with `appendfsync always`. A SIGKILL of redis-server loses nothing that reached the
AOF file with write() (the kernel holds it), and with `always` the write (and its fsync) happens before any
reply goes out. With `everysec`, Redis may postpone the write by up to 2 s while a slow background fsync runs
and still answer clients meanwhile, so a kill in that moment would lose acknowledged writes and the run
would blame the service for Redis's own loss. The cost (an fsync per event-loop turn) is small at the rates
these runs send.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import redis

from service.store.keys import Keys
from tests.support.redis_server import free_port, ping

REPO = Path(__file__).resolve().parents[2]
DEFAULT_RESULTS_DIR = REPO / "artifacts" / "chaos"
PREFIX = "chaos:"
# Clients drop idle connections well before uvicorn's keep-alive timeout (5 s) closes them: sending on a
# connection the server is closing at that moment fails with a ReadError that says nothing of the service.
KEEPALIVE_S = 2.0

# Texts whose verdict the shipped word list decides without a model (checked by `preflight`): a clean
# comment is accepted, a strong obscenity rejected, an insult of the review tier held for a moderator. Each
# gets its serial number, spelled out (digits are read as letters: "455" folds to "ass"), so that no two
# comments share a text (nothing is answered from the verdict cache).
TEXTS: dict[str, tuple[str, ...]] = {
    "accept": (
        "Thanks for the thoughtful article, number {n}.",
        "I disagree with the second point, but it is well argued ({n}).",
        "The council meeting is on Tuesday; see you there. Ref {n}",
    ),
    "reject": (
        "What a fucking mess, number {n}.",
        "This is bullshit and you know it ({n}).",
    ),
    "review": (
        "You are an asshole, number {n}.",
        "Only a dumass would write this ({n}).",
    ),
}
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MIX = (("accept", 0.6), ("reject", 0.2), ("review", 0.2))

EXPECTED_STATUS = {"accept": "accepted", "reject": "rejected", "review": "pending_review"}


def interrupt_on_sigterm() -> None:
    """SIGTERM (a CI timeout, `timeout`) as Ctrl-C: the scripts' `finally` blocks then kill the Redis and the
    service they started instead of leaving them running."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a number") from None
    if value <= 0:
        raise SystemExit(f"{name} must be positive, got {raw!r}")
    return value


def results_dir() -> Path:
    path = Path(os.environ.get("CHAOS_RESULTS_DIR") or DEFAULT_RESULTS_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_results(name: str, summary: dict[str, Any]) -> Path:
    """`name`.json (the latest run) and a copy stamped with the time, under the results directory."""
    folder = results_dir()
    text = json.dumps(summary, indent=2, sort_keys=True, default=str)
    stamped = folder / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    stamped.write_text(text)
    (folder / f"{name}.json").write_text(text)
    return stamped


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    """A plain Markdown table (the README quotes it as printed)."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# -- comments ------------------------------------------------------------------------------------------------


class CommentMaker:
    """Comments with unique ids (this run's tag, a serial) and texts, in the MIX of verdict kinds."""

    def __init__(self, tag: str, seed: int = 12) -> None:
        self.tag = tag
        self.serial = 0
        self.rng = random.Random(seed)

    def next(self) -> tuple[str, dict[str, str]]:
        """The verdict the word list should give, and the comment's JSON."""
        self.serial += 1
        pick = self.rng.random()
        kind = MIX[-1][0]
        for name, share in MIX:
            if pick < share:
                kind = name
                break
            pick -= share
        template = self.rng.choice(TEXTS[kind])
        spelled = " ".join(DIGIT_WORDS[int(d)] for d in str(self.serial))
        return kind, {"id": f"{self.tag}-{self.serial}", "text": template.format(n=spelled)}


# -- processes -----------------------------------------------------------------------------------------------


class PersistentRedis:
    """A redis-server of the run's own (127.0.0.1, a free port) whose data lives in `workdir` as an AOF, so
    that `kill()` (SIGKILL) and `start()` bring it back with everything it acknowledged. DEBUG is enabled
    for local connections, for `DEBUG SLEEP` (a pause)."""

    def __init__(self, workdir: Path, *, port: int | None = None, fsync: str = "always") -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.fsync = fsync
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 30.0) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        if ping("127.0.0.1", self.port, timeout_s=0.2):
            raise RuntimeError(f"something else answers on 127.0.0.1:{self.port}")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--dir", str(self.workdir),
                "--appendonly", "yes",
                "--appendfsync", self.fsync,
                "--save", "",
                "--enable-debug-command", "local",
                "--logfile", str(self.workdir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not ping("127.0.0.1", self.port, timeout_s=0.2):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer in {timeout_s} s: {self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: a crash, no goodbye to the clients and no final fsync."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def pause(self, seconds: int) -> None:
        """`DEBUG SLEEP`: the server stops answering anyone for `seconds`, then carries on."""
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=seconds + 10)
        try:
            client.execute_command("DEBUG", "SLEEP", str(seconds))
        finally:
            client.close()

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=30)

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join((self.workdir / "redis.log").read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"


class ServedService:
    """`moderation serve` as its own process, on a free port, against `redis_url`, with its data directory
    (the outage journal's, MODERATION_DATA_DIR) in `workdir`. Its output is appended to workdir/service.log
    across restarts. Without `model_path` it runs with the word list only (MODERATION_MODEL=none), which
    keeps a run on a busy 2-core machine about the service's bookkeeping, not about inference."""

    def __init__(self, workdir: Path, redis_url: str, *, model_path: str | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "service.log"
        self.process: subprocess.Popen[bytes] | None = None
        env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_") and k != "REDIS_URL"}
        env.update(
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            REDIS_URL=redis_url,
            MODERATION_REDIS_PREFIX=PREFIX,
            MODERATION_DATA_DIR=str(workdir / "data"),
            MODERATION_ENVIRONMENT="development",
            MODERATION_LOG_LEVEL="WARNING",
            MODERATION_MODEL_THREADS="1",
            PYTHONPATH=str(REPO),
        )
        if model_path:
            env["MODERATION_MODEL_PATH"] = model_path
        else:
            env["MODERATION_MODEL"] = "none"
        self.env = env

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve", "--port", str(self.port)],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, timeout_s: float = 90.0) -> float:
        """Block until /readyz answers 200; returns when (time.monotonic())."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                code = None if self.process is None else self.process.returncode
                raise RuntimeError(f"the service exited ({code}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.base + "/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        return time.monotonic()
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the service was not ready in {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def rss_bytes(self) -> int | None:
        """The process's resident set (VmRSS in /proc/PID/status), None once it is gone."""
        pid = self.pid
        if pid is None:
            return None
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            return None
        return None

    def metrics(self) -> str:
        with urllib.request.urlopen(self.base + "/metrics", timeout=5) as answer:
            return str(answer.read().decode())

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def journal_depth(metrics_text: str) -> float | None:
    """The outage journal's depth from /metrics (`moderation_journal_records`: records waiting to be
    replayed), or None when the service exposes none (no Redis, or MODERATION_JOURNAL=false)."""
    for line in metrics_text.splitlines():
        if line.startswith("moderation_journal_records ") or line.startswith("moderation_journal_records{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                return None
    return None


# -- the records check ---------------------------------------------------------------------------------------


@dataclass
class Answered:
    """A comment the service gave a verdict for (a 200): what it said, its status token if any, and when the
    answer came (seconds since the load started)."""

    verdict: str
    token: str | None
    at: float = 0.0


@dataclass
class RecordCheck:
    """What Redis holds for the comments the service answered, and whether the review queue agrees with
    the statuses. `violations()` lists what breaks "nothing lost"."""

    answered: int = 0
    without_token: int = 0
    statuses_found: int = 0
    log_entries_found: int = 0
    lost: list[str] = field(default_factory=list)
    status_missing: list[str] = field(default_factory=list)
    log_missing: list[str] = field(default_factory=list)
    status_mismatch: list[str] = field(default_factory=list)
    reviews_not_queued: list[str] = field(default_factory=list)
    queued_not_pending: list[str] = field(default_factory=list)
    pending_not_queued: list[str] = field(default_factory=list)
    queue_length: int = 0
    overflow_length: int = 0
    pending_statuses: int = 0

    def violations(self) -> dict[str, int]:
        counts = {
            "lost records (no status, no log entry)": len(self.lost),
            "statuses missing (log entry only)": len(self.status_missing),
            "log entries missing (review/reject with a status only)": len(self.log_missing),
            "statuses that disagree with the answer": len(self.status_mismatch),
            "answered reviews not in the queue": len(self.reviews_not_queued),
            "queued ids not pending_review": len(self.queued_not_pending),
            "pending_review statuses not queued": len(self.pending_not_queued),
        }
        return {name: n for name, n in counts.items() if n}

    def summary(self, examples: int = 5) -> dict[str, Any]:
        out = asdict(self)
        for name, value in list(out.items()):
            if isinstance(value, list):
                out[name] = {"count": len(value), "examples": value[:examples]}
        return out


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def check_records(client: redis.Redis, keys: Keys, answered: dict[str, Answered]) -> RecordCheck:
    """Read Redis directly, through the service's own key names (service/store/keys.py): each answered
    comment's status and log entry, the queue and its overflow, and every pending_review status."""
    check = RecordCheck(answered=len(answered))
    check.without_token = sum(1 for a in answered.values() if not a.token)

    ids = sorted(answered)
    statuses: dict[str, dict[str, str]] = {}
    for chunk in _chunks(ids, 500):
        pipe = client.pipeline(transaction=False)
        for comment_id in chunk:
            pipe.hgetall(keys.comment(comment_id))
        for comment_id, fields in zip(chunk, pipe.execute(), strict=True):
            if fields:
                statuses[comment_id] = fields

    logged: set[str] = set()
    start = "-"
    while True:
        entries = client.xrange(keys.decision_log(), min=start, count=2000)
        if not entries:
            break
        for _entry_id, fields in entries:
            if fields.get("kind") == "verdict" and fields.get("comment_id"):
                logged.add(fields["comment_id"])
        start = "(" + entries[-1][0]

    queue = set(client.zrange(keys.review_queue(), 0, -1))
    overflow = set(client.zrange(keys.review_overflow(), 0, -1))
    check.queue_length, check.overflow_length = len(queue), len(overflow)
    check.statuses_found = len(statuses)
    check.log_entries_found = len(logged & set(ids))

    for comment_id in ids:
        expected = EXPECTED_STATUS.get(answered[comment_id].verdict)
        status = statuses.get(comment_id)
        in_log = comment_id in logged
        if status is None:
            (check.status_missing if in_log else check.lost).append(comment_id)
            continue
        if expected is not None and status.get("status") != expected:
            check.status_mismatch.append(comment_id)
        if answered[comment_id].verdict in ("review", "reject") and not in_log:
            check.log_missing.append(comment_id)
        if (
            answered[comment_id].verdict == "review"
            and status.get("status") == "pending_review"
            and comment_id not in queue | overflow
            and status.get("queue") != "lost"
        ):
            check.reviews_not_queued.append(comment_id)

    for comment_id in sorted(queue | overflow):
        fields = statuses.get(comment_id)
        if fields is None:
            fields = client.hgetall(keys.comment(comment_id)) or {}
        if fields.get("status") != "pending_review":
            check.queued_not_pending.append(comment_id)

    # Every status key of the deployment: the comment key's name with the id left off.
    probe = "probe"
    pattern = keys.comment(probe).removesuffix(probe) + "*"
    status_keys = list(client.scan_iter(match=pattern, count=1000))
    comment_prefix = pattern[:-1]
    for chunk in _chunks(status_keys, 500):
        pipe = client.pipeline(transaction=False)
        for key in chunk:
            pipe.hmget(key, "status", "queue")
        for key, (status_value, queue_mark) in zip(chunk, pipe.execute(), strict=True):
            if status_value != "pending_review":
                continue
            check.pending_statuses += 1
            comment_id = key.removeprefix(comment_prefix)
            if comment_id not in queue and comment_id not in overflow and queue_mark != "lost":
                check.pending_not_queued.append(comment_id)
    return check


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
