"""Store round trips benchmark (issue 12): what recording a batch of 100 comments costs in Redis.

A batch of BATCH comments (a third accepted, a third for review, a third rejected, by the marker scorer) goes
through the whole pipeline (word lists, policy, cache, decision log) on a RedisStore against a throwaway
redis-server of its own, so that INFO commandstats counts this run's commands only. Per batch it reports:

- store calls: each is one round trip to Redis (a command, or a pipeline of them);
- Redis commands: what the server ran, from INFO commandstats (commands that scripts run included), with
  EVALSHA apart;
- latency: the wall time of `Pipeline.moderate` for the batch, median and max over ROUNDS rounds,
  for fresh texts (cache misses, new statuses) and for the same batch again (cache hits, repeats).

Run: `python -m tests.benchmarks.bench_store` (needs redis-server on PATH; a few seconds). Optional
BENCH_RTT_MS adds that many milliseconds to each store call, as a Redis across a network would.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Any

import redis

from service import runtime
from service.moderation.types import Comment
from service.store import RedisStore
from tests.support.failing import CountingStore
from tests.support.redis_server import ThrowawayRedis
from tests.support.scorers import MarkerScorer
from tests.support.settings import make_settings

BATCH = 100
ROUNDS = 10
RTT_S = float(os.environ.get("BENCH_RTT_MS", "0")) / 1000


class _Delayed(CountingStore):
    """Counts store calls, and adds a simulated network round trip to each."""

    def _counted(self, name: str, method: Any) -> Any:
        counted = super()._counted(name, method)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if RTT_S:
                await asyncio.sleep(RTT_S)
            return await counted(*args, **kwargs)

        return call


def _commands(client: redis.Redis) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in client.info("commandstats").items()}


def _batch(round_no: int) -> list[Comment]:
    scores = ("0.01", "0.6", "0.95")  # accept, review, reject under the shipped policy's insult thresholds
    return [
        Comment(
            id=f"r{round_no}-c{i}", text=f"Comment {round_no}/{i} [[insult={scores[i % 3]}]]", article_id="a"
        )
        for i in range(BATCH)
    ]


async def _run(server: ThrowawayRedis) -> None:
    store = RedisStore.from_url(server.url, socket_timeout_s=2.0)
    counting = _Delayed(store)
    settings = make_settings()
    decisions = runtime.decision_log(settings, counting)  # type: ignore[arg-type]
    pipeline = runtime.pipeline(
        settings,
        rules=runtime.load_rules(settings),
        scorer=MarkerScorer(),
        store=counting,
        decisions=decisions,
    )
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        await pipeline.moderate(_batch(-1))  # warm-up: threads, scripts loaded
        for label, again in (
            ("fresh batch (misses, new statuses)", False),
            ("same batch again (hits, repeats)", True),
        ):
            calls, commands, evalsha, times, verdicts = [], [], [], [], set()
            for r in range(ROUNDS):
                batch = _batch(0 if again else r + 1)
                if again and r == 0:
                    await pipeline.moderate(batch)  # the batch the repeats repeat
                counting.calls.clear()
                before = _commands(client)
                started = time.perf_counter()
                verdicts |= {v.verdict for v in await pipeline.moderate(batch)}
                times.append(time.perf_counter() - started)
                after = _commands(client)
                delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
                delta.pop("info", None)
                calls.append(len(counting.calls))
                evalsha.append(delta.get("evalsha", 0))
                commands.append(sum(delta.values()))
            print(f"{label}, {BATCH} comments ({'/'.join(sorted(verdicts))}), {ROUNDS} rounds:")
            print(f"  store calls (round trips) per batch: {statistics.median(calls):.0f}")
            shown = f"{statistics.median(commands):.0f} (EVALSHA {statistics.median(evalsha):.0f})"
            print(f"  Redis commands per batch, scripts' own included: {shown}")
            print(
                f"  batch latency: median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"
                + (f" (with {RTT_S * 1000:.1f} ms per round trip added)" if RTT_S else "")
            )
    finally:
        client.close()
        pipeline.close()
        await store.aclose()


def main() -> None:
    with ThrowawayRedis() as server:
        asyncio.run(_run(server))


if __name__ == "__main__":
    main()
