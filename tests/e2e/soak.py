"""The soak (`make soak`): `moderation serve` under steady load for ten minutes, watching its memory and latency.

    python -m tests.e2e.soak           (SOAK_SECONDS=90 for a quick try; the default is 600)

  1. starts a redis-server of its own (AOF, appendfsync everysec: nothing is killed here) and `moderation
     serve` against it, word list only unless CHAOS_MODEL_PATH names a model (tests/e2e/faults.py);
  2. measures capacity: a closed-loop ramp (1, 2, 4, ... clients, no pause between requests, SOAK_RAMP_STEP_S
     seconds each, default 6) until one more doubling adds less than 5%; capacity is the best rate of
     answered requests;
  3. runs open loop at SOAK_LOAD_FRACTION (default 0.8) of it for SOAK_SECONDS: requests leave on a fixed
     schedule whatever the answers do, and a request's latency counts from when it was due (so a stall is
     not hidden by the client waiting for it); the same mix of comments as the fault run, unique ids;
  4. samples the service's RSS (/proc/PID/status) every SOAK_SAMPLE_S (default 5) and splits the run into
     ten slices (a minute each at full length) for per-slice p50/p99.
Passes when
  - RSS grew by at most SOAK_RSS_GROWTH_MAX (default 0.10) from slice 2 (the first slice is warm-up) to
    slice 10, each the median of its samples;
  - p99 is stable: the median of slices 8-10's p99 is at most twice the median of slices 2-4's, plus
    SOAK_P99_FLOOR_MS (default 50 ms, so that a few ms of scheduling noise on a busy machine is not
    "twice as slow"). Medians of three slices, not one pooled p99, so one noisy minute on a shared
    machine does not decide the run;
  - no request failed and none had to be skipped (more than ten seconds of requests in flight).
Prints the per-slice table and the verdict, writes artifacts/chaos/soak.json; exit 1 on a failed criterion,
2 when the run could not be carried out.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.faults import (
    KEEPALIVE_S,
    CommentMaker,
    PersistentRedis,
    ServedService,
    env_float,
    interrupt_on_sigterm,
    percentile,
    table,
    write_results,
)

SLICES = 10
RAMP_LEVELS = (1, 2, 4, 8, 16, 32)
RAMP_GAIN = 1.05
SLICE_COLUMNS = ("slice", "from_s", "to_s", "answered", "failed", "p50_ms", "p99_ms", "lag_p99_ms", "rss_mb")


@dataclass
class Sample:
    """One request of the open loop: when it left (seconds since the start), how long its answer took, how
    late it left against the schedule (the client's own lag on a busy machine), and whether it got one."""

    started: float
    latency_ms: float
    lag_ms: float
    ok: bool


@dataclass
class Soak:
    maker: CommentMaker
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)
    skipped: int = 0
    elapsed_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, name: str) -> None:
        self.errors[name] = self.errors.get(name, 0) + 1


async def _send(client: httpx.AsyncClient, maker: CommentMaker) -> str | None:
    """One comment; None when it was answered with a verdict, else what went wrong."""
    _, comment = maker.next()
    try:
        answer = await client.post("/v1/moderate", json=comment)
    except httpx.HTTPError as exc:
        return type(exc).__name__
    return None if answer.status_code == 200 else f"http {answer.status_code}"


async def _closed_loop(client: httpx.AsyncClient, maker: CommentMaker, clients: int, seconds: float) -> float:
    """Answered requests a second with `clients` clients sending back to back."""
    stop_at = time.monotonic() + seconds
    answered = 0

    async def one() -> None:
        nonlocal answered
        while time.monotonic() < stop_at:
            if await _send(client, maker) is None:
                answered += 1

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(clients)))
    return answered / (time.monotonic() - started)


async def _capacity(client: httpx.AsyncClient, maker: CommentMaker, step_s: float) -> list[tuple[int, float]]:
    ramp: list[tuple[int, float]] = []
    best = 0.0
    for clients in RAMP_LEVELS:
        rate = await _closed_loop(client, maker, clients, step_s)
        ramp.append((clients, rate))
        print(f"  {clients:3d} clients: {rate:7.1f} req/s", flush=True)
        if rate < best * RAMP_GAIN and len(ramp) >= 3:
            break
        best = max(best, rate)
    return ramp


async def _open_loop(
    soak: Soak, client: httpx.AsyncClient, service: ServedService, rate: float, seconds: float
) -> None:
    # At least three RSS samples a slice, however short the run.
    sample_s = min(env_float("SOAK_SAMPLE_S", 5.0), seconds / SLICES / 3)
    max_in_flight = max(64, int(rate * 10))
    in_flight: set[asyncio.Task[None]] = set()
    finished = asyncio.Event()
    t0 = time.monotonic()

    async def request(due: float) -> None:
        started = time.monotonic()
        failed = await _send(client, soak.maker)
        ended = time.monotonic()
        soak.samples.append(
            Sample(started - t0, (ended - started) * 1000, (started - due) * 1000, failed is None)
        )
        if failed is not None:
            soak.error(failed)

    async def sample_rss() -> None:
        while not finished.is_set():
            rss = service.rss_bytes()
            if rss is not None:
                soak.rss.append((time.monotonic() - t0, rss))
            try:
                await asyncio.wait_for(finished.wait(), sample_s)
            except TimeoutError:
                pass

    sampler = asyncio.create_task(sample_rss())
    report_every = max(1, int(rate * seconds / SLICES))
    sent = 0
    while True:
        due = t0 + sent / rate
        if due >= t0 + seconds:
            break
        # Always yield, even when behind schedule: the answers' tasks must run too.
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        sent += 1
        if sent % report_every == 0:
            print(
                f"  t={time.monotonic() - t0:5.0f}s sent {sent}, answered {len(soak.samples)}, "
                f"in flight {len(in_flight)}",
                flush=True,
            )
        if len(in_flight) >= max_in_flight:
            soak.skipped += 1
            continue
        task = asyncio.create_task(request(due))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=60)
    soak.elapsed_s = time.monotonic() - t0
    finished.set()
    await sampler


async def _run(soak: Soak, service: ServedService, seconds: float) -> dict[str, Any]:
    fraction = env_float("SOAK_LOAD_FRACTION", 0.8)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=64, keepalive_expiry=KEEPALIVE_S)
    async with httpx.AsyncClient(base_url=service.base, timeout=30.0, limits=limits) as client:
        await _closed_loop(client, soak.maker, 2, 3.0)  # warm the service and the connections
        print("capacity (closed loop):", flush=True)
        ramp = await _capacity(client, soak.maker, env_float("SOAK_RAMP_STEP_S", 6.0))
        capacity = max(rate for _, rate in ramp)
        rate = capacity * fraction
        print(
            f"open loop at {rate:.1f} req/s ({fraction:.0%} of {capacity:.1f}) for {seconds:.0f} s",
            flush=True,
        )
        await _open_loop(soak, client, service, rate, seconds)
    return {"ramp": ramp, "capacity_rps": capacity, "rate_rps": rate, "fraction": fraction}


def _slices(soak: Soak, seconds: float) -> list[dict[str, Any]]:
    """Per-slice figures, by when requests left and samples were taken (what left late, past the schedule's
    end, counts in the last slice)."""
    width = seconds / SLICES

    def slice_of(at: float) -> int:
        return min(SLICES - 1, max(0, int(at / width)))

    latencies: list[list[float]] = [[] for _ in range(SLICES)]
    lags: list[list[float]] = [[] for _ in range(SLICES)]
    failed = [0] * SLICES
    rss: list[list[int]] = [[] for _ in range(SLICES)]
    for sample in soak.samples:
        index = slice_of(sample.started)
        lags[index].append(sample.lag_ms)
        if sample.ok:
            latencies[index].append(sample.latency_ms)
        else:
            failed[index] += 1
    for at, value in soak.rss:
        rss[slice_of(at)].append(value)
    return [
        {
            "slice": index + 1,
            "from_s": round(index * width),
            "to_s": round((index + 1) * width),
            "answered": len(latencies[index]),
            "failed": failed[index],
            "p50_ms": round(percentile(latencies[index], 50), 1),
            "p99_ms": round(percentile(latencies[index], 99), 1),
            "max_ms": round(max(latencies[index], default=0.0), 1),
            "lag_p99_ms": round(percentile(lags[index], 99), 1),
            "rss_mb": round(statistics.median(rss[index]) / 2**20, 1) if rss[index] else None,
        }
        for index in range(SLICES)
    ]


def _judge(slices: list[dict[str, Any]], soak: Soak) -> dict[str, Any]:
    floor_ms = env_float("SOAK_P99_FLOOR_MS", 50.0)
    growth_max = env_float("SOAK_RSS_GROWTH_MAX", 0.10)
    first = statistics.median(s["p99_ms"] for s in slices[1:4])
    last = statistics.median(s["p99_ms"] for s in slices[7:10])
    p99_limit = 2 * first + floor_ms
    base, end = slices[1]["rss_mb"], slices[-1]["rss_mb"]
    growth = (end - base) / base if base and end else None
    failures = []
    if growth is None:
        failures.append("no RSS samples in slice 2 or slice 10")
    elif growth > growth_max:
        failures.append(f"RSS grew {growth:.1%} (limit {growth_max:.0%})")
    if last > p99_limit:
        failures.append(f"p99 went from {first:.1f} to {last:.1f} ms (limit {p99_limit:.1f})")
    if soak.errors:
        failures.append(f"{sum(soak.errors.values())} request(s) failed: {soak.errors}")
    if soak.skipped:
        failures.append(f"{soak.skipped} request(s) skipped: more than ten seconds of requests in flight")
    return {
        "rss_baseline_mb": base,
        "rss_end_mb": end,
        "rss_growth": None if growth is None else round(growth, 4),
        "rss_growth_max": growth_max,
        "p99_first_ms": first,
        "p99_last_ms": last,
        "p99_limit_ms": round(p99_limit, 1),
        "failures": failures,
    }


def main() -> int:
    interrupt_on_sigterm()
    seconds = env_float("SOAK_SECONDS", 600.0)
    if seconds < SLICES:
        print("SOAK_SECONDS must be at least 10", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        redis_server = PersistentRedis(workdir / "redis", fsync="everysec")
        service = ServedService(
            workdir / "service", redis_server.url, model_path=os.environ.get("CHAOS_MODEL_PATH") or None
        )
        soak = Soak(CommentMaker(f"s{int(time.time()) % 1_000_000}"))
        try:
            redis_server.start()
            service.start()
            service.wait_ready()
            load = asyncio.run(_run(soak, service, seconds))
        except Exception as exc:
            print(f"the soak could not be carried out: {type(exc).__name__}: {exc}", file=sys.stderr)
            print(service.log_tail(), file=sys.stderr)
            return 2
        finally:
            service.stop()
            redis_server.kill()
    slices = _slices(soak, seconds)
    verdict = _judge(slices, soak)
    print()
    print(
        table(
            [[s[k] for k in SLICE_COLUMNS] for s in slices],
            ("slice", "from s", "to s", "answered", "failed", "p50 ms", "p99 ms", "client lag p99 ms", "RSS MB"),
        )
    )  # fmt: skip
    growth = verdict["rss_growth"]
    failed = sum(soak.errors.values())
    achieved = len(soak.samples) / soak.elapsed_s if soak.elapsed_s else 0.0
    rss_change = f"{verdict['rss_baseline_mb']} -> {verdict['rss_end_mb']} MB"
    if growth is not None:
        rss_change += f" ({growth:+.1%}, limit {verdict['rss_growth_max']:.0%})"
    rows = [
        ("capacity (closed-loop ramp)", f"{load['capacity_rps']:.1f} req/s"),
        (
            "open-loop rate asked / achieved",
            f"{load['rate_rps']:.1f} / {achieved:.1f} req/s, {seconds:.0f} s",
        ),
        ("requests sent / failed / skipped", f"{len(soak.samples)} / {failed} / {soak.skipped}"),
        ("RSS slice 2 -> slice 10 (median)", rss_change),
        (
            "p99 slices 2-4 -> 8-10 (median)",
            f"{verdict['p99_first_ms']:.1f} -> {verdict['p99_last_ms']:.1f} ms (limit {verdict['p99_limit_ms']})",
        ),
    ]
    print()
    print(table(rows, ("soak", "result")))
    summary = {
        "seconds": seconds,
        "achieved_rps": round(achieved, 1),
        **load,
        "slices": slices,
        "errors": soak.errors,
        "skipped": soak.skipped,
    }
    summary.update(verdict)
    path = write_results("soak", summary)
    print(f"\nsummary: {path}")
    if verdict["failures"]:
        print("FAILED: " + "; ".join(verdict["failures"]), file=sys.stderr)
        return 1
    print("passed: memory flat, p99 stable, nothing failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
