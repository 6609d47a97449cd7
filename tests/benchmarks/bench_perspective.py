"""Perspective door benchmark: Coral Talk's body against our own /v1/moderate, served, under load.

Coral Talk calls a Perspective endpoint once per comment, synchronously, with a timeout of 800 ms (its
`perspective_timeout` default); past it the comment goes through unscored. This measures what Coral would
see: `uvicorn service.app:create_app` in a subprocess serving a bert-base-size checkpoint (the ONNX int8
export bench_inference.py builds, its fastest backend within 0.02 of PyTorch's scores), on a real Redis,
with 16 and 50 concurrent clients, each posting one comment after another:

- /v1alpha1/comments:analyze with Coral's exact body (doNotStore, TOXICITY, languages ["en"]);
- /v1/moderate with the same comments (a verdict recorded in full: status, log, counters).

Both doors get the same ~300-character comments (bench_inference's, distinct per request; each door's copy
starts with its own letter, so that neither is answered from the other's cache), in alternating order per
run; every figure is from this run. Per door and concurrency: throughput (median of RUNS runs), latency
p50, p99 and max over all runs' requests, and the share of requests past Coral's 800 ms.

Run: `python -m tests.benchmarks.bench_perspective` (about two minutes on 2 cores). The models come from
$BENCH_MODELS_DIR, else .cache/bench-models/ of this checkout (`python -m tests.benchmarks.bench_inference`
builds them there). Redis: $TEST_REDIS_URL, else redis://127.0.0.1:6379/15, else a throwaway server; the
benchmark's keys live under a prefix of their own and are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_inference import _free_port, comments, percentile
from tests.support.redis_server import delete_keys_under, redis_url_for_tests

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("BENCH_MODELS_DIR") or ROOT / ".cache" / "bench-models")
MODEL = MODELS / "original-base-onnx-int8"
RESULTS = ROOT / ".cache" / "bench-results" / "perspective.json"

RUNS = 3
CONCURRENCY = (16, 50)
REQUESTS = 250  # per run, door and concurrency
CORAL_TIMEOUT_S = 0.8
THREADS = os.cpu_count() or 1

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def coral_body(text: str) -> bytes:
    """What Coral Talk's toxic phase sends (see tests/api/test_perspective.py)."""
    return (
        '{"comment":{"text":' + json.dumps(text) + '},"doNotStore":true,'
        '"requestedAttributes":{"TOXICITY":{}},"languages":["en"]}'
    ).encode()


DOORS: dict[str, tuple[str, str]] = {
    # door: (path, the letter its comments start with)
    "perspective (Coral body)": ("/v1alpha1/comments:analyze?key=bench", "P"),
    "/v1/moderate": ("/v1/moderate", "M"),
}


class Server:
    """The app served by uvicorn in a subprocess, on `MODEL`, recording into Redis at `redis_url`."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "MODERATION_MODEL_PATH": str(MODEL),
            "MODERATION_LOG_LEVEL": "WARNING",
            "MODERATION_MODEL_THREADS": str(THREADS),
            "MODERATION_QUEUE_MAX": "1024",
            "REDIS_URL": redis_url,
            "MODERATION_REDIS_PREFIX": prefix,
        }
        env.pop("MODERATION_REDIS_URL", None)
        argv = [sys.executable, "-m", "uvicorn", "service.app:create_app", "--factory"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 180) -> str:
        """Waits for /readyz; returns the model id it reports."""
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                ready = httpx.get(f"{self.url}/readyz", timeout=2)
                if ready.status_code == 200:
                    return str(ready.json()["checks"]["model"]["detail"])
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("server not ready in time")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _request(door: str, text: str) -> tuple[str, dict[str, Any]]:
    path, _ = DOORS[door]
    if door.startswith("perspective"):
        return path, {"content": coral_body(text), "headers": {"Content-Type": "application/json"}}
    return path, {"json": {"text": text}}


def _checked(door: str, response: Any) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{door}: {response.status_code} {response.text[:300]}")
    body = response.json()
    if door.startswith("perspective"):
        value = body["attributeScores"]["TOXICITY"]["summaryScore"]["value"]
        assert 0.0 <= value <= 1.0
    elif body["cached"] or not body["model_consulted"]:
        raise RuntimeError(f"{door}: a cached or model-less verdict: {response.text[:300]}")


async def load(url: str, door: str, texts: Sequence[str], clients: int) -> tuple[float, list[float]]:
    """Every text once through `door`, from `clients` concurrent clients; (comments/s, latencies in s)."""
    import httpx

    queue: asyncio.Queue[str] = asyncio.Queue()
    for t in texts:
        queue.put_nowait(t)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                path, kwargs = _request(door, queue.get_nowait())
                started = time.perf_counter()
                response = await client.post(path, **kwargs)
                latencies.append(time.perf_counter() - started)
                _checked(door, response)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return len(texts) / wall, latencies


def _texts(door: str, count: int, seed: int) -> list[str]:
    _, letter = DOORS[door]
    return [f"{letter}{text}" for text in comments(count, seed)]


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    if not (MODEL / "manifest.json").is_file():
        sys.exit(f"no ONNX int8 export at {MODEL}: run `python -m tests.benchmarks.bench_inference` first")
    results: dict[str, Any] = {"threads": THREADS, "load_before": _load_average(), "runs": RUNS}
    with redis_url_for_tests() as redis_url:
        prefix = f"bench-perspective-{uuid.uuid4().hex[:8]}:"
        server = Server(redis_url, prefix)
        try:
            results["model"] = model_id = server.wait_ready()
            print(f"{model_id} served by uvicorn, {THREADS} threads, Redis at {redis_url}")
            print(f"load average before: {results['load_before']}")
            for door in DOORS:  # warm-up: each door's code paths and the model's first calls, off the clock
                asyncio.run(load(server.url, door, _texts(door, 32, seed=7), 16))
            for clients in CONCURRENCY:
                rates: dict[str, list[float]] = {door: [] for door in DOORS}
                latencies: dict[str, list[float]] = {door: [] for door in DOORS}
                for run in range(RUNS):
                    order = list(DOORS) if run % 2 == 0 else list(reversed(DOORS))
                    for door in order:
                        texts = _texts(door, REQUESTS, seed=1000 * clients + run)
                        rate, seconds = asyncio.run(load(server.url, door, texts, clients))
                        rates[door].append(rate)
                        latencies[door].extend(seconds)
                results[f"clients_{clients}"] = summary = {
                    door: _summary(rates[door], latencies[door]) for door in DOORS
                }
                _print(clients, summary)
        finally:
            server.stop()
            delete_keys_under(redis_url, prefix)
    results["load_after"] = _load_average()
    print(f"\nload average after: {results['load_after']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS}")


def _summary(rates: list[float], latencies: list[float]) -> dict[str, Any]:
    return {
        "rates": rates,
        "median_rate": statistics.median(rates),
        "requests": len(latencies),
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "max_ms": 1000 * max(latencies),
        "over_coral_timeout": sum(1 for s in latencies if s > CORAL_TIMEOUT_S) / len(latencies),
    }


def _print(clients: int, summary: dict[str, dict[str, Any]]) -> None:
    print(f"\n{clients} concurrent clients, {RUNS} runs of {REQUESTS} requests per door:")
    ours = summary["/v1/moderate"]
    for door, s in summary.items():
        versus = (
            ""
            if door == "/v1/moderate"
            else f"  = {s['median_rate'] / ours['median_rate']:.3f}x the throughput, "
            f"{s['p50_ms'] / ours['p50_ms']:.3f}x the p50 of /v1/moderate"
        )
        print(
            f"  {door:26s} {s['median_rate']:6.1f} comments/s  p50 {s['p50_ms']:5.0f} ms  p99 {s['p99_ms']:5.0f} ms  "
            f"max {s['max_ms']:5.0f} ms  past 800 ms: {s['over_coral_timeout']:.1%}{versus}"
        )


if __name__ == "__main__":
    main()
