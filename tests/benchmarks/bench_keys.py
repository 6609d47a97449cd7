"""API keys benchmark: what checking a site's key costs a request at our door, against anonymous requests in
the same run.

Keys are looked up on every request, with no cache, so that a revocation holds at once in every process: one
Redis round trip (HGETALL) or one stat() of the key file, plus a SHA-256 and a constant-time comparison. This
measures that price:

- per check: SiteKeys.site_of on a live key, sequentially, for the memory store, Redis and the key file;
- per request: POST /v1/moderate through the ASGI app (httpx's ASGITransport, the app's own lifespan, a
  real Redis for the cache and the decision log) from CONCURRENCY clients at once, for anonymous requests
  (keys optional, no header: the baseline), a key in Redis (required) and a key in the key file (required).
  Each configuration has its own key prefix and gets the same comments in each round (cold cache for all);
  the rounds alternate between configurations, each round in another order, after a warm-up round that is
  not counted, so that the machine's drift and the first-in-line's penalty are shared.

Run: `python -m tests.benchmarks.bench_keys` (a Redis at TEST_REDIS_URL or redis://127.0.0.1:6379/15; about
half a minute on 2 cores). Prints the figures; exit status 0 (the comparison is for people to read).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from service.app import create_app
from service.sites.registry import SiteKeys
from service.store import KeyFile, MemoryStore, RedisStore
from service.store.base import ApiKeyStore
from tests.support.redis_server import DEFAULT_TEST_REDIS_URL, delete_keys_under
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

CHECKS = 3000
CONCURRENCY = 16
PER_ROUND = 200
ROUNDS = 8


async def _checks(store: ApiKeyStore) -> float:
    """Microseconds per SiteKeys.site_of of a live key."""
    keys = SiteKeys(store)
    key = (await keys.create("bench.example")).key
    started = time.perf_counter()
    for _ in range(CHECKS):
        assert await keys.site_of(key) == "bench.example"
    return (time.perf_counter() - started) / CHECKS * 1e6


async def _round(
    client: httpx.AsyncClient, texts: list[str], headers: dict[str, str]
) -> tuple[list[float], float]:
    """Latencies (s) of POSTing every text, CONCURRENCY at a time, and the round's wall time."""
    queue = list(texts)
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            text = queue.pop()
            sent = time.perf_counter()
            response = await client.post("/v1/moderate", json={"text": text}, headers=headers)
            latencies.append(time.perf_counter() - sent)
            assert response.status_code == 200, response.text

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return latencies, time.perf_counter() - started


def _row(name: str, latencies: list[float], seconds: float, baseline: float | None) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    throughput = len(ms) / seconds
    versus = f"  {(statistics.median(ms) / baseline - 1) * 100:+5.1f}% median" if baseline else ""
    return (
        f"  {name:<24} {len(ms):>5} requests  {throughput:7.1f} req/s  median {statistics.median(ms):6.2f} ms  "
        f"p99 {p99:6.2f} ms{versus}"
    )


async def run() -> int:
    redis_url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    run_id = uuid.uuid4().hex[:8]
    prefixes: list[str] = []

    def prefix(name: str) -> str:
        prefixes.append(f"bench-keys-{run_id}-{name}:")
        return prefixes[-1]

    with tempfile.TemporaryDirectory() as tmp:
        try:
            redis_store = RedisStore.from_url(redis_url, prefix=prefix("checks"))
            per_check = {
                "memory": await _checks(MemoryStore()),
                "redis": await _checks(redis_store),
                "key file": await _checks(KeyFile(Path(tmp) / "checks.json")),
            }
            await redis_store.aclose()

            configs: dict[str, tuple[dict[str, Any], bool]] = {
                "anonymous (baseline)": ({}, False),
                "key in Redis": ({"REQUIRE_API_KEY": True}, True),
                "key in the key file": (
                    {"REQUIRE_API_KEY": True, "KEYS_FILE": Path(tmp) / "keys.json"},
                    True,
                ),
            }
            results: dict[str, tuple[list[float], float]] = {name: ([], 0.0) for name in configs}
            async with _apps(configs, redis_url, prefix) as clients:
                for r in range(ROUNDS):
                    texts = [
                        f"Round {r}, comment {i}: a thoughtful piece, thank you for it."
                        for i in range(PER_ROUND)
                    ]
                    for name, (client, headers) in clients.items():
                        latencies, seconds = await _round(client, texts, headers)
                        total, spent = results[name]
                        results[name] = (total + latencies, spent + seconds)
        finally:
            for p in prefixes:
                delete_keys_under(redis_url, p)

    print(f"SiteKeys.site_of on a live key, {CHECKS} checks one after another:")
    for name, us in per_check.items():
        print(f"  {name:<10} {us:7.1f} us per check")
    print(
        f"POST /v1/moderate, {CONCURRENCY} concurrent clients, {ROUNDS} x {PER_ROUND} comments (MarkerScorer):"
    )
    baseline = statistics.median(x * 1000 for x in results["anonymous (baseline)"][0])
    for name, (latencies, seconds) in results.items():
        print(_row(name, latencies, seconds, None if name.startswith("anonymous") else baseline))
    return 0


class _apps:
    """One started app per configuration, each on its own Redis prefix, with an httpx client and the headers
    its requests carry (a key issued on the app itself where keys are used)."""

    def __init__(
        self, configs: dict[str, tuple[dict[str, Any], bool]], redis_url: str, prefix: Callable[[str], str]
    ) -> None:
        self.configs, self.redis_url, self.prefix = configs, redis_url, prefix
        self._exits: list[Any] = []

    async def __aenter__(self) -> dict[str, tuple[httpx.AsyncClient, dict[str, str]]]:
        clients: dict[str, tuple[httpx.AsyncClient, dict[str, str]]] = {}
        for i, (name, (overrides, keyed)) in enumerate(self.configs.items()):
            settings = make_settings(
                REDIS_URL=self.redis_url,
                REDIS_PREFIX=self.prefix(f"app{i}"),
                LOG_LEVEL="ERROR",
                # Set, so that the start does not log generated ones.
                ADMIN_PASSWORD=secrets.token_urlsafe(24),
                SESSION_SECRET=secrets.token_urlsafe(48),
                **overrides,
            )
            app = create_app(settings, scorer=MarkerScorer())
            lifespan = app.router.lifespan_context(app)
            await lifespan.__aenter__()
            self._exits.append(lifespan)
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")
            self._exits.append(client)
            headers = {"X-API-Key": (await app.state.site_keys.create("bench.example")).key} if keyed else {}
            clients[name] = (client, headers)
        return clients

    async def __aexit__(self, *exc: object) -> None:
        for resource in reversed(self._exits):
            await resource.__aexit__(None, None, None)


def main() -> int:
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
