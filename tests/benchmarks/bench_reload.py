"""Rules reload benchmark: what an edit of the rules files costs the requests being served meanwhile.

Starts `moderation serve` (uvicorn, a real Redis for the cache and the decision log, MODERATION_MODEL=none
so that the word list and the policy are the work) on a copy of the shipped rules, and sends it steady
traffic: CLIENTS clients, each one request at a time with PAUSE_S between them, every text new (no cache
hit). Two phases of PHASE_S each, measured by the same clients:

- quiet: nobody touches the rules;
- reloads: every EDIT_EVERY_S a new term is added to rules/wordlist/site-suspect.txt, so that each edit is a
  real rebuild of the word lists (and the policy): one every few seconds, each after the debounce.

It prints each phase's request latency (p50, p99, max) and how many edits were served by the end. With
`--code DIR` the server runs the code of DIR instead (e.g. `--code /work/main` for the code before this
change, whose watcher rebuilt inline on the event loop); `--compare DIR` runs both, this one first.

Run: `python -m tests.benchmarks.bench_reload [--compare DIR]` (a Redis at TEST_REDIS_URL or
redis://127.0.0.1:6379/15; about a minute per server on 2 cores). Exit status 0: the figures are to read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.redis_server import DEFAULT_TEST_REDIS_URL, delete_keys_under, free_port

REPO = Path(__file__).resolve().parents[2]
CLIENTS = 4
PAUSE_S = 0.02
PHASE_S = 16.0
EDIT_EVERY_S = 4.0


def _term() -> str:
    return "zq" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(10))


def _start(code: Path, rules: Path, port: int, redis_url: str, prefix: str, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODERATION_") and k != "REDIS_URL"}
    env.update(
        PYTHONPATH=str(code),
        MODERATION_MODEL="none",
        MODERATION_RULES_DIR=str(rules),
        REDIS_URL=redis_url,
        MODERATION_REDIS_PREFIX=prefix,
        MODERATION_LOG_LEVEL="WARNING",
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(port)],
            cwd=code,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _ready(client: httpx.AsyncClient, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"server not ready:\n{log.read_text()}")


async def _phase(client: httpx.AsyncClient, seconds: float, edit: Path | None) -> tuple[list[float], int]:
    """Latencies (ms) of every request sent during `seconds`, and the number of failed requests; with `edit`,
    a new term is written to that file every EDIT_EVERY_S."""
    latencies: list[float] = []
    failures = 0
    end = time.monotonic() + seconds

    async def one_client(n: int) -> None:
        nonlocal failures
        i = 0
        while time.monotonic() < end:
            i += 1
            text = f"Comment {n}-{i}-{secrets.token_hex(4)} about the article, which is fine."
            started = time.perf_counter()
            try:
                answer = await client.post("/v1/moderate", json={"text": text})
                ok = answer.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - started) * 1000)
            failures += not ok
            await asyncio.sleep(PAUSE_S)

    async def editor() -> None:
        assert edit is not None
        while time.monotonic() + EDIT_EVERY_S / 2 < end:
            edit.write_text(f"[review personal]\n{_term()}\n")
            await asyncio.sleep(EDIT_EVERY_S)

    tasks = [one_client(n) for n in range(CLIENTS)] + ([editor()] if edit is not None else [])
    await asyncio.gather(*tasks)
    return latencies, failures


async def _served(client: httpx.AsyncClient, term: str) -> bool:
    answer = (await client.post("/v1/moderate", json={"text": f"You {term}."})).json()
    return any(m["term"] == term for m in answer["profanity"]["matches"])


def _summary(name: str, latencies: list[float], failures: int) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"  {name:8} {len(latencies):5d} requests, {failures} failed: p50 {cuts[49]:7.1f} ms  "
        f"p99 {cuts[98]:7.1f} ms  max {max(latencies):7.1f} ms"
    )


async def bench(code: Path, redis_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as tmp:
        rules = Path(tmp) / "rules"
        shutil.copytree(REPO / "rules", rules)
        suspect = rules / "wordlist" / "site-suspect.txt"
        port, prefix, log = free_port(), f"bench-reload-{secrets.token_hex(4)}:", Path(tmp) / "server.log"
        proc = _start(code, rules, port, redis_url, prefix, log)
        try:
            limits = httpx.Limits(max_connections=CLIENTS + 2)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits
            ) as client:
                await _ready(client, proc, log)
                await _phase(client, 3.0, None)  # warm-up, not counted
                quiet = await _phase(client, PHASE_S, None)
                reloads = await _phase(client, PHASE_S, suspect)
                # The last edit's debounce and build, after the traffic.
                last, waited = suspect.read_text().split()[-1], time.monotonic()
                while not await _served(client, last) and time.monotonic() - waited < 60:
                    await asyncio.sleep(0.1)
                edit_served = time.monotonic() - waited
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
            delete_keys_under(redis_url, prefix)
    print(f"code: {code}")
    print(_summary("quiet", *quiet))
    print(_summary("reloads", *reloads))
    print(f"  the last edit served {edit_served:.1f} s after the traffic ended (60 = never)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=REPO, help="the checkout whose service runs")
    parser.add_argument("--compare", type=Path, default=None, help="also run this checkout's service")
    args = parser.parse_args()
    redis_url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    for code in [args.code] + ([args.compare] if args.compare else []):
        asyncio.run(bench(code.resolve(), redis_url))


if __name__ == "__main__":
    main()
