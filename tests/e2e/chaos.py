"""The fault run (`make chaos`): load on `moderation serve` while Redis and the service are made to fail, then
a check that nothing the service answered was lost.

    python -m tests.e2e.chaos          (CHAOS_SECONDS=40 for a quick try; the default is 150)

What it does, all on this machine and in a temporary directory:
  1. starts a redis-server of its own (AOF, appendfsync always: see tests/e2e/faults.py for why) and
     `moderation serve` against it (word list only, unless CHAOS_MODEL_PATH names a model), with
     MODERATION_DATA_DIR in the temporary directory (where the outage journal keeps its files);
  2. runs CHAOS_WORKERS clients (default 6) sending CHAOS_RATE comments' requests a second between them
     (default 60; one request in ten a batch of five), 60% clean comments, 20% the word list rejects, 20%
     it sends to review, every one with an id of its own, for CHAOS_SECONDS (default 150, at least 120 for
     the issue's run);
  3. meanwhile, at 15%, 35%, 55% and 75% of the run: Redis killed (SIGKILL) and started again after
     CHAOS_REDIS_DOWN_S (default 8); Redis paused (`DEBUG SLEEP 3` from a side connection); the service
     killed (SIGKILL) and started again; Redis killed and started again;
  4. afterwards waits for the service to be ready and its outage journal (/metrics'
     moderation_journal_records) to be empty, then reads Redis directly through the service's key names:
     every comment answered with a verdict must have its status (and a review or rejection its log entry),
     every answered review must be in the review queue (or its overflow), every queued id must be
     pending_review and every pending_review status queued (or marked lost by the overflow);
  5. prints a summary table, writes artifacts/chaos/chaos.json (CHAOS_RESULTS_DIR) and exits 1 on any
     violation: a lost or half-written record, an inconsistent queue, a failed request outside the
     service's own restart (connection refused while it is down is expected, and counted apart).
Exit status 2: the run itself could not be carried out (a process would not start, a fault failed).
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from service.store.keys import Keys
from tests.e2e.faults import (
    KEEPALIVE_S,
    PREFIX,
    Answered,
    CommentMaker,
    PersistentRedis,
    RecordCheck,
    ServedService,
    check_records,
    env_float,
    interrupt_on_sigterm,
    journal_depth,
    percentile,
    table,
    write_results,
)

BATCH_SHARE = 0.1
BATCH_SIZE = 5
PAUSE_S = 3
KINDS = ("accept", "review", "reject")
RESTART_GRACE_S = 2.0  # after /readyz says ready again, clients' pooled connections settle
FAULT_GAP_S = 10.0
AFTERMATH_S = 15.0  # how long after a fault a loss is put down to it (the store's backoff reaches 10 s)


@dataclass
class Outcome:
    started: float
    ended: float
    comments: int
    status: int | None  # HTTP status, None when no answer came
    error: str | None = None


@dataclass
class Fault:
    kind: str
    started: float
    ended: float = 0.0
    error: str | None = None


@dataclass
class LoadRun:
    maker: CommentMaker
    answered: dict[str, Answered] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    unexpected: dict[str, int] = field(default_factory=dict)
    restart_windows: list[tuple[float, float]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    t0: float = 0.0
    stop_at: float = 0.0
    faults_done: bool = False

    def blame(self, at: float) -> str:
        """The fault a comment answered `at` (seconds since the start) was answered in or just after (the
        store's backoff outlasts an outage), for the table of what was lost when."""
        for number, fault in reversed(list(enumerate(self.faults, 1))):  # the latest fault started before
            if fault.started - self.t0 <= at <= fault.ended - self.t0 + AFTERMATH_S:
                return f"{number}. {fault.kind}"
        return "no fault"

    def in_restart(self, at: float) -> bool:
        return any(start <= at <= end for start, end in self.restart_windows)


async def _client_loop(
    run: LoadRun, client: httpx.AsyncClient, seed: int, rate: float, check_kind: bool
) -> None:
    rng = random.Random(seed)
    next_at = time.monotonic() + rng.random() / rate
    while time.monotonic() < run.stop_at or not run.faults_done:
        delay = next_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        next_at = max(next_at + 1 / rate, time.monotonic())
        batch = rng.random() < BATCH_SHARE
        made = [run.maker.next() for _ in range(BATCH_SIZE if batch else 1)]
        started = time.monotonic()
        try:
            if batch:
                answer = await client.post("/v1/moderate/batch", json={"comments": [c for _, c in made]})
            else:
                answer = await client.post("/v1/moderate", json=made[0][1])
        except httpx.HTTPError as exc:
            run.outcomes.append(Outcome(started, time.monotonic(), len(made), None, type(exc).__name__))
            await asyncio.sleep(0.05)  # the service is down: don't spin
            continue
        ended = time.monotonic()
        if answer.status_code != 200:
            code = _error_code(answer)
            run.outcomes.append(Outcome(started, ended, len(made), answer.status_code, code))
            continue
        body = answer.json()
        verdicts = body["results"] if batch else [body]
        for (kind, comment), verdict in zip(made, verdicts, strict=True):
            run.answered[comment["id"]] = Answered(
                verdict["verdict"], verdict.get("status_token"), ended - run.t0
            )
            if check_kind and verdict["verdict"] != kind:
                key = f"{kind}->{verdict['verdict']}"
                run.unexpected[key] = run.unexpected.get(key, 0) + 1
        run.outcomes.append(Outcome(started, ended, len(made), 200))


def _error_code(answer: httpx.Response) -> str:
    try:
        return str(answer.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"http {answer.status_code}"


async def _faults(
    run: LoadRun, redis_server: PersistentRedis, service: ServedService, t0: float, duration: float
) -> None:
    down_s = env_float("CHAOS_REDIS_DOWN_S", 8.0)
    plan = [(0.15, "redis-kill"), (0.35, "redis-pause"), (0.55, "service-kill"), (0.75, "redis-kill")]
    previous_end = t0
    for share, kind in plan:
        # On schedule, but never sooner than FAULT_GAP_S after the last one ended (a slow restart on a busy
        # machine would otherwise run two faults into one, and a loss could not be put down to either).
        wait = max(t0 + share * duration, previous_end + FAULT_GAP_S) - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        fault = Fault(kind, time.monotonic())
        run.faults.append(fault)
        try:
            if kind == "redis-kill":
                redis_server.kill()
                await asyncio.sleep(down_s)
                await asyncio.to_thread(redis_server.start)
            elif kind == "redis-pause":
                await asyncio.to_thread(redis_server.pause, PAUSE_S)
            else:
                service.kill()
                service.start()
                ready = await asyncio.to_thread(service.wait_ready)
                run.restart_windows.append((fault.started, ready + RESTART_GRACE_S))
        except Exception as exc:  # reported as a failed run (exit 2), with what went wrong
            fault.error = f"{type(exc).__name__}: {exc}"
        fault.ended = previous_end = time.monotonic()
        print(f"  t={fault.started - t0:6.1f}s {kind} ({fault.ended - fault.started:.1f}s)", flush=True)
    # The load goes on a while after the last fault, however late that came.
    run.stop_at = max(run.stop_at, time.monotonic() + FAULT_GAP_S)
    run.faults_done = True


async def _load(
    run: LoadRun, redis_server: PersistentRedis, service: ServedService, duration: float, faults: bool
) -> None:
    workers = int(env_float("CHAOS_WORKERS", 6))
    rate = env_float("CHAOS_RATE", 60.0) / workers
    limits = httpx.Limits(
        max_connections=workers, max_keepalive_connections=workers, keepalive_expiry=KEEPALIVE_S
    )
    async with httpx.AsyncClient(base_url=service.base, timeout=30.0, limits=limits) as client:
        t0 = run.t0 = time.monotonic()
        run.stop_at = t0 + duration
        run.faults_done = not faults
        tasks = [
            _client_loop(run, client, seed, rate, check_kind=service.env.get("MODERATION_MODEL") == "none")
            for seed in range(workers)
        ]
        if faults:
            tasks.append(_faults(run, redis_server, service, t0, duration))
        await asyncio.gather(*tasks)


def _preflight(service: ServedService, maker: CommentMaker) -> None:
    """The word list must still give each kind of comment its verdict, or the run's mix means nothing."""
    if service.env.get("MODERATION_MODEL") != "none":
        return
    seen: dict[str, str] = {}
    with httpx.Client(base_url=service.base, timeout=30) as client:
        while len(seen) < 3:
            kind, comment = maker.next()
            if kind in seen:
                continue
            answer = client.post("/v1/moderate", json=comment)
            answer.raise_for_status()
            seen[kind] = answer.json()["verdict"]
    wrong = {k: v for k, v in seen.items() if k != v}
    if wrong:
        raise RuntimeError(f"the word list no longer gives the verdicts the run relies on: {wrong}")


def _drain(service: ServedService) -> dict[str, Any]:
    """Wait for the service to be ready and its outage journal (if it has one) to be empty."""
    service.wait_ready(timeout_s=60)
    timeout_s = env_float("CHAOS_DRAIN_TIMEOUT_S", 120.0)
    started = time.monotonic()
    depth = journal_depth(service.metrics())
    if depth is None:
        time.sleep(3)  # no journal to wait for: only let in-flight writes settle
        return {"journal_metric": "absent", "drain_s": round(time.monotonic() - started, 1)}
    first = depth
    while depth and time.monotonic() - started < timeout_s:
        time.sleep(0.5)
        depth = journal_depth(service.metrics()) or 0.0
    return {
        "journal_metric": "present",
        "journal_depth_at_end_of_load": first,
        "journal_depth_after_drain": depth,
        "drain_s": round(time.monotonic() - started, 1),
    }


def _status_api_sample(service: ServedService, run: LoadRun, size: int = 200) -> dict[str, int]:
    """GET /v1/comments/{id} with the status token, for a sample of the answered comments that got one."""
    with_token = [(cid, a.token) for cid, a in run.answered.items() if a.token]
    sample = random.Random(7).sample(with_token, min(size, len(with_token)))
    found = 0
    with httpx.Client(base_url=service.base, timeout=30) as client:
        for comment_id, token in sample:
            if client.get(f"/v1/comments/{comment_id}", params={"token": token}).status_code == 200:
                found += 1
    return {"asked": len(sample), "found": found}


def main() -> int:
    interrupt_on_sigterm()
    duration = env_float("CHAOS_SECONDS", 150.0)
    faults = os.environ.get("CHAOS_FAULTS", "1") != "0"
    model_path = os.environ.get("CHAOS_MODEL_PATH") or None
    tag = f"c{int(time.time()) % 1_000_000}"
    with tempfile.TemporaryDirectory(prefix="chaos-") as tmp:
        workdir = Path(tmp)
        redis_server = PersistentRedis(workdir / "redis")
        service = ServedService(workdir / "service", redis_server.url, model_path=model_path)
        run = LoadRun(CommentMaker(tag))
        try:
            redis_server.start()
            service.start()
            service.wait_ready()
            _preflight(service, run.maker)
            print(f"fault run: {duration:.0f} s of load, faults {'on' if faults else 'off'}", flush=True)
            asyncio.run(_load(run, redis_server, service, duration, faults))
            if redis_server.process is None:
                redis_server.start()
            drain = _drain(service)
            check = check_records(redis_server.client(), Keys(PREFIX), run.answered)
            api_sample = _status_api_sample(service, run)
        except Exception as exc:
            print(f"the fault run could not be carried out: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(service.log_tail(), file=sys.stderr)
            return 2
        finally:
            service.stop()
            redis_server.kill()
        service_log = service.log_tail(40)
    return _report(run, check, drain, api_sample, duration, faults, service_log)


def _report(
    run: LoadRun,
    check: RecordCheck,
    drain: dict[str, Any],
    api_sample: dict[str, int],
    duration: float,
    faults: bool,
    service_log: str,
) -> int:
    failed = [o for o in run.outcomes if o.status != 200]
    in_restart = [o for o in failed if run.in_restart(o.ended)]
    outside = [o for o in failed if not run.in_restart(o.ended)]
    latencies_ms = [(o.ended - o.started) * 1000 for o in run.outcomes if o.status == 200]
    verdicts: dict[str, int] = {}
    for answered in run.answered.values():
        verdicts[answered.verdict] = verdicts.get(answered.verdict, 0) + 1
    outside_kinds: dict[str, int] = {}
    for o in outside:
        name = o.error or f"http {o.status}"
        outside_kinds[name] = outside_kinds.get(name, 0) + 1
    fault_errors = [f"{f.kind}: {f.error}" for f in run.faults if f.error]
    violations = dict(check.violations())
    if outside:
        violations["failed requests outside the service's restart"] = len(outside)
    if api_sample["found"] < api_sample["asked"]:
        violations["statuses the API does not find (sample)"] = api_sample["asked"] - api_sample["found"]

    lost_by: dict[str, dict[str, int]] = {}
    for comment_id in check.lost + check.log_missing + check.reviews_not_queued:
        answered = run.answered.get(comment_id)
        if answered is not None:
            by_kind = lost_by.setdefault(run.blame(answered.at), {})
            by_kind[answered.verdict] = by_kind.get(answered.verdict, 0) + 1
    pending = check.pending_statuses
    rows = [
        ("load", f"{run.stop_at - run.t0:.0f} s (CHAOS_SECONDS {duration:.0f}), faults {'on' if faults else 'off'}"),
        ("requests", len(run.outcomes)),
        ("comments answered", len(run.answered)),
        ("verdicts accept / review / reject", " / ".join(str(verdicts.get(k, 0)) for k in KINDS)),
        ("verdicts other than the word list's", sum(run.unexpected.values())),
        ("latency p50 / p99 (ms)", f"{percentile(latencies_ms, 50):.1f} / {percentile(latencies_ms, 99):.1f}"),
        ("failed during the service's restart", len(in_restart)),
        ("failed outside it", f"{len(outside)} {outside_kinds or ''}".strip()),
        ("answered without a status token", check.without_token),
        ("lost records (no status, no log entry)", len(check.lost)),
        ("log entry missing (review/reject)", len(check.log_missing)),
        ("status missing (logged only)", len(check.status_missing)),
        ("status disagrees with the answer", len(check.status_mismatch)),
        ("answered reviews not queued", len(check.reviews_not_queued)),
        ("queued but not pending_review", len(check.queued_not_pending)),
        ("pending_review but not queued", len(check.pending_not_queued)),
        ("queue / overflow / pending statuses", f"{check.queue_length} / {check.overflow_length} / {pending}"),
        ("status API sample found", f"{api_sample['found']} of {api_sample['asked']}"),
        ("outage journal", f"{drain['journal_metric']}, drained in {drain['drain_s']} s"),
        ("faults", ", ".join(f"{f.kind} {f.ended - f.started:.1f}s" for f in run.faults) or "none"),
    ]  # fmt: skip
    print()
    print(table(rows, ("fault run", "result")))
    if lost_by:
        print()
        lost_rows = [
            (when, *(by_kind.get(k, 0) for k in KINDS), sum(by_kind.values()))
            for when, by_kind in sorted(lost_by.items())
        ]
        print(table(lost_rows, ("lost or half-written, answered during", *KINDS, "all")))
    summary = {
        "duration_s": duration,
        "load_s": round(run.stop_at - run.t0, 1),
        "faults_on": faults,
        "requests": len(run.outcomes),
        "comments_answered": len(run.answered),
        "verdicts": verdicts,
        "unexpected_verdicts": run.unexpected,
        "latency_ms": {"p50": percentile(latencies_ms, 50), "p99": percentile(latencies_ms, 99)},
        "failed_during_restart": len(in_restart),
        "failed_outside_restart": len(outside),
        "failed_outside_restart_kinds": outside_kinds,
        "records": check.summary(),
        "lost_by_fault": lost_by,
        "status_api_sample": api_sample,
        "drain": drain,
        "faults": [
            {"kind": f.kind, "seconds": round(f.ended - f.started, 2), "error": f.error} for f in run.faults
        ],
        "violations": violations,
        "fault_errors": fault_errors,
        "service_log_tail": service_log.splitlines(),
    }
    path = write_results("chaos", summary)
    print(f"\nsummary: {path}")
    if fault_errors:
        print("the faults could not all be carried out: " + "; ".join(fault_errors), file=sys.stderr)
        return 2
    if faults and len(run.faults) < 4:
        print(f"only {len(run.faults)} of 4 faults ran: the run was too short", file=sys.stderr)
        return 2
    if violations:
        print("FAILED: " + "; ".join(f"{name}: {n}" for name, n in violations.items()), file=sys.stderr)
        return 1
    print("passed: nothing answered was lost, the queue agrees with the statuses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
