"""Inference benchmark: Detoxify's own `predict`, our scorer on each backend, and the service over HTTP.

Run: `python -m tests.benchmarks.bench_inference` (5-8 minutes on 2 cores the first time, which builds the
bert-base checkpoint and its ONNX exports under .cache/bench-models/; later runs reuse them).

All on the same ~300-character comments (made of the fixture corpus's words, so they tokenize to about as
many tokens as real comments do with bert-base-uncased's vocabulary), in one run:

1. baseline: `Detoxify.predict`, one comment at a time (Detoxify's own path, torch's default threads);
2. our in-process scorer, batches of BATCH_MAX_SIZE: PyTorch fp32, PyTorch int8 (torch dynamic
   quantization, for comparison only), ONNX Runtime fp32 and int8 (with transformer fusions) and int8
   without fusions — throughput and the largest score difference to PyTorch fp32;
3. the service over HTTP (uvicorn in a subprocess) on the fastest backend: 16 concurrent clients posting
   distinct comments; throughput against the same backend in process, p50 and p99 latency;
4. the serving process's peak RSS (VmHWM) for each served backend, after the same load.

Every figure is the median of RUNS runs; ratios are against the baseline measured in this run.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "bench-models"
BASE = CACHE / "original-base"
RESULTS = ROOT / ".cache" / "bench-results" / "inference.json"

RUNS = 3
BASELINE_COMMENTS = 12  # per run: Detoxify.predict is slow; 12 comments are ~4 s
SCORER_COMMENTS = 64  # per run, per backend
HTTP_CLIENTS = 16
HTTP_REQUESTS = 160  # per run
MEMORY_REQUESTS = 48  # the load each other served backend gets before its peak memory is read
COMMENT_CHARS = 300
THREADS = os.cpu_count() or 1

# The benchmark starts its own servers and keeps the hub offline like the tests: nothing is downloaded.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def comments(count: int, seed: int) -> list[str]:
    """`count` distinct ~300-character comments from the fixture corpus's words (seeded)."""
    from service.model.demo import _CORPUS

    words = sorted(set(re.findall(r"[a-z']+", _CORPUS.lower())))
    rng = random.Random(seed)
    out: list[str] = []
    for i in range(count):
        text = f"{i}"
        while len(text) < COMMENT_CHARS:
            text += " " + rng.choice(words)
        out.append(text[:COMMENT_CHARS].rsplit(" ", 1)[0] + ".")
    return out


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def export(name: str, *, int8: bool, optimize: bool) -> Path:
    """The ONNX export of the base checkpoint, made once and reused while source and exporter match."""
    import onnxruntime
    import torch

    from service.model.export import export_onnx
    from service.model.loader import _sha256

    folder = CACHE / f"original-base-{name}"
    digest = _sha256(BASE / "bert-base.ckpt")
    manifest_file = folder / "manifest.json"
    if manifest_file.is_file():
        manifest = json.loads(manifest_file.read_text())
        if (
            manifest["source"]["sha256"] == digest
            and manifest["exporter"]["torch"] == torch.__version__
            and manifest["exporter"]["onnxruntime"] == onnxruntime.__version__
        ):
            return folder
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    print(f"  exporting {folder.name} (once) ...", flush=True)
    export_onnx(BASE, folder, int8=int8, optimize=optimize, threads=THREADS)
    return folder


def baseline(texts: Sequence[str]) -> list[float]:
    import torch
    from detoxify import Detoxify

    from service.model.loader import _checkpoint_for_folder

    torch.set_num_threads(THREADS)
    model = Detoxify(checkpoint=_checkpoint_for_folder(BASE / "bert-base.ckpt", BASE))
    model.predict(texts[0])  # first-call costs off the clock
    rates = []
    for run in range(RUNS):
        part = texts[run * BASELINE_COMMENTS : (run + 1) * BASELINE_COMMENTS]
        seconds = timed(lambda part=part: [model.predict(t) for t in part])
        rates.append(len(part) / seconds)
    return rates


def in_process(scorer: Any, texts: Sequence[str], batch: int) -> tuple[list[float], list[dict[str, float]]]:
    scorer.score(texts[:batch])  # warm-up
    rates, scores = [], []
    for _ in range(RUNS):
        out: list[dict[str, float]] = []

        def run(out: list[dict[str, float]] = out) -> None:
            for start in range(0, len(texts), batch):
                out.extend(scorer.score(texts[start : start + batch]))

        rates.append(len(texts) / timed(run))
        scores = out
    return rates, scores


def max_diff(a: Sequence[dict[str, float]], b: Sequence[dict[str, float]]) -> float:
    return max(abs(x[c] - y[c]) for x, y in zip(a, b, strict=True) for c in x)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`uvicorn service.app:create_app` in a subprocess, serving `model_path`."""

    def __init__(self, model_path: Path) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "MODERATION_MODEL_PATH": str(model_path),
            "MODERATION_LOG_LEVEL": "WARNING",
            "MODERATION_MODEL_THREADS": str(THREADS),
            "MODERATION_QUEUE_MAX": "1024",
        }
        env.pop("REDIS_URL", None)
        env.pop("MODERATION_REDIS_URL", None)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "service.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout_s: float = 180) -> None:
        import httpx

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

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        (kib,) = re.findall(r"VmHWM:\s+(\d+) kB", status)
        return int(kib) / 1024

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


async def load(url: str, texts: Sequence[str], clients: int) -> tuple[float, list[float]]:
    """POST every text once from `clients` concurrent clients; (comments per second, latencies in s)."""
    import httpx

    queue: asyncio.Queue[str] = asyncio.Queue()
    for t in texts:
        queue.put_nowait(t)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                text = queue.get_nowait()
                started = time.perf_counter()
                r = await client.post("/v1/moderate", json={"text": text})
                latencies.append(time.perf_counter() - started)
                if r.status_code != 200 or r.json()["cached"]:
                    raise RuntimeError(f"unexpected answer {r.status_code}: {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return len(texts) / wall, latencies


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    import torch

    from service.config import Settings
    from service.model.demo import build_base_checkpoint
    from service.model.loader import load_scorer

    DEFAULT_MAX_BATCH_SIZE = Settings().BATCH_MAX_SIZE
    print(f"bert-base (Detoxify 'original' architecture), {THREADS} threads, torch {torch.__version__}")
    build_base_checkpoint(BASE)
    folders = {
        "onnx-fp32": export("onnx-fp32", int8=False, optimize=True),
        "onnx-int8": export("onnx-int8", int8=True, optimize=True),
        "onnx-int8-nofusion": export("onnx-int8-nofusion", int8=True, optimize=False),
    }
    texts = comments(max(SCORER_COMMENTS, BASELINE_COMMENTS * RUNS), seed=1)
    results: dict[str, Any] = {"threads": THREADS, "batch": DEFAULT_MAX_BATCH_SIZE}

    reference = load_scorer("unbiased", BASE, THREADS)
    windows, _ = reference.windows.encode(texts)  # type: ignore[attr-defined]
    results["tokens_per_comment"] = statistics.mean(len(w) for w in windows)
    print(f"comments: {COMMENT_CHARS} characters, {results['tokens_per_comment']:.0f} tokens on average")

    rates = baseline(texts)
    base = statistics.median(rates)
    results["baseline"] = {"rates": rates, "median": base}
    print(f"\nbaseline Detoxify.predict, one at a time: {base:.2f} comments/s (runs {_fmt(rates)})")

    print(f"\nin-process scorer, batches of {DEFAULT_MAX_BATCH_SIZE}:")
    scorers: dict[str, Any] = {"pytorch-fp32": reference}
    quantized = load_scorer("unbiased", BASE, THREADS)
    quantized._model = torch.ao.quantization.quantize_dynamic(  # type: ignore[attr-defined]
        quantized._model, {torch.nn.Linear}, dtype=torch.qint8
    )
    scorers["pytorch-int8"] = quantized
    for name, folder in folders.items():
        scorers[name] = load_scorer("unbiased", folder, THREADS)
    reference_scores: list[dict[str, float]] = []
    results["in_process"] = {}
    for name, scorer in scorers.items():
        rates, scores = in_process(scorer, texts[:SCORER_COMMENTS], DEFAULT_MAX_BATCH_SIZE)
        if name == "pytorch-fp32":
            reference_scores = scores
        diff = max_diff(scores, reference_scores)
        median = statistics.median(rates)
        results["in_process"][name] = {
            "rates": rates,
            "median": median,
            "ratio": median / base,
            "max_diff": diff,
        }
        print(
            f"  {name:20s} {median:7.2f} comments/s  {median / base:5.1f}x baseline  "
            f"max |score - pytorch fp32| {diff:.4f}  (runs {_fmt(rates)})"
        )
    del scorers, quantized, reference

    served = {name: r for name, r in results["in_process"].items() if not name.startswith("pytorch-int8")}
    eligible = {
        name: r for name, r in served.items() if r["max_diff"] <= 0.02 and name != "onnx-int8-nofusion"
    }
    fastest = max(eligible, key=lambda n: eligible[n]["median"])
    paths = {"pytorch-fp32": BASE, **folders}

    print(f"\nservice over HTTP, {fastest}, {HTTP_CLIENTS} concurrent clients, distinct comments:")
    server = Server(paths[fastest])
    try:
        server.wait_ready()
        asyncio.run(load(server.url, comments(HTTP_CLIENTS * 2, seed=99), HTTP_CLIENTS))  # warm-up
        http_rates, all_latencies = [], []
        for run in range(RUNS):
            rate, latencies = asyncio.run(
                load(server.url, comments(HTTP_REQUESTS, seed=100 + run), HTTP_CLIENTS)
            )
            http_rates.append(rate)
            all_latencies.extend(latencies)
        peak = {fastest: server.peak_rss_mib()}
    finally:
        server.stop()
    http = statistics.median(http_rates)
    in_proc = results["in_process"][fastest]["median"]
    results["http"] = {
        "backend": fastest,
        "rates": http_rates,
        "median": http,
        "ratio_to_in_process": http / in_proc,
        "ratio_to_baseline": http / base,
        "p50_ms": 1000 * percentile(all_latencies, 0.5),
        "p99_ms": 1000 * percentile(all_latencies, 0.99),
    }
    h = results["http"]
    print(
        f"  {http:.2f} comments/s = {h['ratio_to_in_process']:.2f} of in-process, "
        f"{h['ratio_to_baseline']:.1f}x baseline; latency p50 {h['p50_ms']:.0f} ms, p99 {h['p99_ms']:.0f} ms "
        f"(runs {_fmt(http_rates)})"
    )

    print(f"\nserving process peak memory (VmHWM) after {MEMORY_REQUESTS}+ requests:")
    for name in served:
        if name in peak or name == "onnx-int8-nofusion":
            continue
        server = Server(paths[name])
        try:
            server.wait_ready()
            asyncio.run(load(server.url, comments(MEMORY_REQUESTS, seed=200), HTTP_CLIENTS))
            peak[name] = server.peak_rss_mib()
        finally:
            server.stop()
    results["peak_rss_mib"] = peak
    for name, mib in peak.items():
        print(f"  {name:20s} {mib:7.0f} MiB")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nresults written to {RESULTS.relative_to(ROOT)}")


def _fmt(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
