"""Pipeline benchmark: does the service stay responsive while it matches long and hostile comments?

Issue 10 found one 1,000-character comment ("@a" * 500) stalling every request for 26 s, /healthz included,
because word-list matching ran on the event loop. Matching now runs in its own threads (MATCH_THREADS); this
measures what a health check sees meanwhile, against a baseline taken in the same run:

- idle: /healthz asked every 10 ms with nothing else to do, each check timed from when it was due (so a
  loop kept busy shows in the check that had to wait, not only in the one it was busy in);
- during a full batch (MAX_BATCH comments of MAX_CHARS characters of one listed word repeated: 1 MB), and
  during a batch of the issue's hostile comments ("@a" * 500, "a$" * 500, "x|" * 500, "b+" * 500).

Everything runs in one event loop through the ASGI app (httpx's ASGITransport, the app's own lifespan), so
a health check's latency is exactly how long the loop was kept from it. Matching holds the GIL: the loop
asks for it back after each switch interval (5 ms) but competes with every matching thread for it, so on a
busy machine single checks take up to a couple of hundred ms while a batch is matched; seconds would mean
matching is back on the loop. MODERATION_MATCH_THREADS (and the other settings) come from the environment.

Run: `python -m tests.benchmarks.bench_pipeline` (under a minute once the word-list engine is linear; the
hostile batch alone took minutes before). Exit status 1 if a health check during the batches took longer
than TARGET_MAX_S.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

import httpx

from service.app import create_app
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

TARGET_MAX_S = 0.25  # a load balancer's health check times out in seconds; a quarter of one is plenty
IDLE_CHECKS = 200
POLL_EVERY_S = 0.01
HOSTILE = ["@a" * 500, "a$" * 500, "x|" * 500, "b+" * 500]


async def _health_latencies(client: httpx.AsyncClient, until: asyncio.Future[object] | None) -> list[float]:
    """Seconds from when each check was due to when it was answered: a loop kept busy delays the check's
    start as much as its answer, so the clock starts when the check should have gone out."""
    latencies: list[float] = []
    due = time.perf_counter()
    while (until is None and len(latencies) < IDLE_CHECKS) or (until is not None and not until.done()):
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        response = await client.get("/healthz")
        answered = time.perf_counter()
        latencies.append(answered - due)
        assert response.status_code == 200
        due = answered + POLL_EVERY_S
    return latencies


async def _during(client: httpx.AsyncClient, texts: list[str]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    batch = asyncio.ensure_future(
        client.post("/v1/moderate/batch", json={"comments": [{"text": t} for t in texts]}, timeout=None)
    )
    latencies = await _health_latencies(client, batch)
    response = await batch
    assert response.status_code == 200, response.text
    return time.perf_counter() - started, latencies


def _row(name: str, latencies: list[float], seconds: float | None = None) -> str:
    ms = sorted(x * 1000 for x in latencies)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    took = f"  (batch answered in {seconds:.1f} s)" if seconds is not None else ""
    return (
        f"  {name:<34} {len(ms):>5} checks  median {statistics.median(ms):7.1f} ms  p99 {p99:7.1f} ms  "
        f"max {ms[-1]:7.1f} ms{took}"
    )


async def run() -> int:
    settings = make_settings()  # MODERATION_MATCH_THREADS etc. from the environment
    app = create_app(settings, scorer=MarkerScorer())
    plain = [
        ("fuck " * (settings.MAX_CHARS // 5))[: settings.MAX_CHARS - 6] + f" {i:05d}"
        for i in range(settings.MAX_BATCH)
    ]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            idle = await _health_latencies(client, None)
            plain_s, during_plain = await _during(client, plain)
            hostile_s, during_hostile = await _during(client, HOSTILE)
    print(f"/healthz latency, MATCH_THREADS={settings.MATCH_THREADS}:")
    print(_row("idle (baseline)", idle))
    print(_row(f"during {len(plain)} x {settings.MAX_CHARS} chars", during_plain, plain_s))
    print(_row('during "@a"*500, "a$"*500, ...', during_hostile, hostile_s))
    worst = max(during_plain + during_hostile)
    ok = worst <= TARGET_MAX_S
    verdict = "ok" if ok else "MISSED"
    print(
        f"worst during the batches: {worst * 1000:.1f} ms (target <= {TARGET_MAX_S * 1000:.0f} ms): {verdict}"
    )
    return 0 if ok else 1


def main() -> int:
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())
