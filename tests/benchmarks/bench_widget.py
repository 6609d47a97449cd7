"""Widget benchmark (issue 14): the widget's size, and the pre-check's latency with TYPISTS people typing at once.

1. widget.js and widget.css as served: bytes, and bytes gzipped (level 9, what a server or CDN sends).
2. POST /v1/precheck on `moderation serve` in a subprocess (real HTTP, Redis at TEST_REDIS_URL or
   redis://127.0.0.1:6379/15 under a prefix of the run's own, as a deployment keeps its rate limits and verdict
   cache): TYPISTS typists, each sending the comment typed so far every INTERVAL_S (what the widget sends at
   most: one pre-check per 300 ms pause), on a fixed schedule, whether or not the previous answer came (open
   loop: a slow service is not given a rest), for DURATION_S. Every prefix is new text, so no answer comes
   from the verdict cache. The pre-check's rate limits are raised for the run (every typist is 127.0.0.1);
   they are still counted, in Redis, on every request.
   Reported: requests answered, errors, p50 / p95 / p99 / max latency and the server's CPU per pre-check, for
   the word list alone (MODERATION_MODEL=none) and, where a model folder is at hand, with the model loaded
   (the pre-check leaves it out by default) and with the pre-check asking it (MODERATION_PRECHECK_MODEL=true):
   the bert-base ONNX int8 export of
   bench_inference.py ($BENCH_MODELS_DIR/original-base-onnx-int8, default .cache/bench-models/; built there
   with `--build-model`), or any folder in $BENCH_WIDGET_MODEL_PATH.

Run: `python -m tests.benchmarks.bench_widget [--build-model]` (about a minute per setting on 2 cores; the pre-check
asking bert-base overloads 2 cores and takes minutes to drain).
Prints the figures; exit status 0 (they are for the README).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from service.web.demo import WIDGET_DIR
from tests.benchmarks.bench_inference import BASE, CACHE, THREADS, export, percentile
from tests.support.redis_server import DEFAULT_TEST_REDIS_URL, delete_keys_under, free_port

ROOT = Path(__file__).resolve().parents[2]
MODELS = Path(os.environ.get("BENCH_MODELS_DIR", CACHE))

TYPISTS = 20
INTERVAL_S = 0.3
DURATION_S = 20.0
WARMUP_S = 3.0
# What the typists write, word by word: ordinary sentences with a disguised obscenity and a review-tier word,
# so that matching finds spans as it does for real commenters.
SENTENCES = [
    "The seed library is a lovely idea and I hope the council keeps the building for good.",
    "Honestly this is a sh1t decision by the council, they never listen to anyone in this town.",
    "My neighbour borrowed tomato seeds last spring and the plants were the best we have had in years.",
    "Only a dumbass would close it on Saturdays when most people are free to visit and bring seeds back.",
    "Could the volunteers publish the catalogue online so that people can check what is in stock first?",
]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def sizes() -> list[tuple[str, int, int]]:
    out = []
    for name in ("widget.js", "widget.css"):
        body = (WIDGET_DIR / name).read_bytes()
        out.append((name, len(body), len(gzip.compress(body, compresslevel=9))))
    return out


class Served:
    """`moderation serve` in a subprocess with `env`."""

    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        full = {
            **{k: v for k, v in os.environ.items() if not k.startswith("MODERATION_") and k != "REDIS_URL"},
            "MODERATION_LOG_LEVEL": "WARNING",
            "MODERATION_MODEL_THREADS": str(THREADS),
            "MODERATION_PRECHECK_LIMIT_PER_IP": "1000000/minute",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 180) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError("server not ready in time")

    def cpu_s(self) -> float:
        """User + system CPU seconds the server has used so far (all its threads)."""
        stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def typists(url: str, run: str) -> tuple[list[float], int, int, float]:
    """Latencies (s) of the requests sent after the warm-up, errors among them, requests sent, and the rate
    actually sent (requests a second)."""
    latencies: list[float] = []
    errors = sent = 0
    limits = httpx.Limits(max_connections=TYPISTS * 4, max_keepalive_connections=TYPISTS * 4)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        start = time.perf_counter()
        end = start + WARMUP_S + DURATION_S
        pending: set[asyncio.Task[None]] = set()

        async def ask(text: str, counted: bool) -> None:
            nonlocal errors
            sent_at = time.perf_counter()
            try:
                response = await client.post("/v1/precheck", json={"text": text})
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            if counted:
                latencies.append(time.perf_counter() - sent_at)
                errors += not ok

        async def typist(n: int) -> None:
            nonlocal sent
            words = f"[{run}-{n}] {' '.join(SENTENCES[n % len(SENTENCES) :] + SENTENCES)}".split()
            # Typists start spread over one interval, as real ones would not type in step.
            tick = start + INTERVAL_S * n / TYPISTS
            typed = 1
            while tick < end:
                await asyncio.sleep(max(0.0, tick - time.perf_counter()))
                counted = tick >= start + WARMUP_S
                sent += counted
                task = asyncio.create_task(ask(" ".join(words[: 1 + typed % len(words)]), counted))
                pending.add(task)
                task.add_done_callback(pending.discard)
                typed += 1
                tick += INTERVAL_S

        await asyncio.gather(*(typist(n) for n in range(TYPISTS)))
        await asyncio.gather(*pending)
    return latencies, errors, sent, sent / DURATION_S


def model_folder(build: bool) -> Path | None:
    given = os.environ.get("BENCH_WIDGET_MODEL_PATH")
    if given:
        return Path(given)
    folder = MODELS / "original-base-onnx-int8"
    if (folder / "model.onnx").is_file():
        return folder
    if not build or MODELS != CACHE:
        return None
    from service.model.demo import build_base_checkpoint

    build_base_checkpoint(BASE)
    return export("onnx-int8", int8=True, optimize=True)


def main(argv: list[str]) -> int:
    print("widget files as served:")
    for name, raw, zipped in sizes():
        print(f"  {name:<11} {raw:6d} bytes, {zipped:5d} bytes gzipped")

    redis_url = os.environ.get("TEST_REDIS_URL", DEFAULT_TEST_REDIS_URL)
    settings: list[tuple[str, dict[str, str]]] = [
        ("word list alone (MODERATION_MODEL=none)", {"MODERATION_MODEL": "none"})
    ]
    folder = model_folder("--build-model" in argv)
    if folder is not None:
        model = {"MODERATION_MODEL_PATH": str(folder)}
        settings.append(
            (f"the model in {folder.name} loaded (the pre-check leaves it out: the default)", model)
        )
        settings.append(
            (
                f"the pre-check asking the model in {folder.name} (MODERATION_PRECHECK_MODEL=true)",
                {**model, "MODERATION_PRECHECK_MODEL": "true"},
            )
        )
    else:
        print(
            "(no model folder: set BENCH_WIDGET_MODEL_PATH, or pass --build-model, for the figure with a model)"
        )

    print(
        f"POST /v1/precheck, {TYPISTS} typists, one request each every {INTERVAL_S * 1000:.0f} ms "
        f"({TYPISTS / INTERVAL_S:.0f} req/s offered), {DURATION_S:.0f} s after {WARMUP_S:.0f} s of warm-up, "
        f"`moderation serve` with Redis, {THREADS} CPUs:"
    )
    for title, env in settings:
        run = uuid.uuid4().hex[:8]
        prefix = f"bench-widget-{run}:"
        server = Served({"REDIS_URL": redis_url, "MODERATION_REDIS_PREFIX": prefix, **env})
        try:
            server.wait_ready()
            cpu_before = server.cpu_s()
            latencies, errors, sent, rate = asyncio.run(typists(server.url, run))
            # Over every request sent, warm-up included: what one pre-check costs the server's CPU.
            cpu_ms = (server.cpu_s() - cpu_before) / (sent * (WARMUP_S + DURATION_S) / DURATION_S) * 1000
        finally:
            server.stop()
            delete_keys_under(redis_url, prefix)
        ms = [x * 1000 for x in latencies]
        print(
            f"  {title}: {len(ms)} requests ({rate:.1f}/s sent), {errors} errors; p50 "
            f"{statistics.median(ms):.1f} ms, p95 {percentile(ms, 0.95):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
            f"max {max(ms):.1f} ms; server CPU {cpu_ms:.1f} ms a pre-check"
        )
    one, five, _ = os.getloadavg()
    print(f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
