"""Coral benchmark: what POST /v1/coral/moderate answers within Coral's phase timeout (200 ms by default).

Run: `python -m tests.benchmarks.bench_coral` (about a minute and a half on 2 cores). It serves the
bert-base checkpoint's ONNX int8 export under .cache/bench-models/, built there once as
`python -m tests.benchmarks.bench_inference` builds it (minutes), or the one in BENCH_MODELS_DIR (a folder
holding original-base-onnx-int8, e.g. another checkout's .cache/bench-models), in a uvicorn subprocess as
bench_inference serves it, with MODERATION_CORAL_SECRETS set.

1. The service over HTTP, at 1, 16 and 50 concurrent clients: Coral's phase requests (signed, pretty-printed
   as Coral sends them, each comment's ~300 characters as HTML: two paragraphs, bold words, references)
   next to POST /v1/moderate with the same comments as plain text (the baseline, in the same run, runs
   alternating which door goes first). Throughput, p50, p99, and the share answered within 200 ms.
   Every comment is new to the verdict cache (the HTML's text differs from the plain one by its newlines).
2. The HTML reader alone (service/moderation/html.py) on 100 KB of ordinary comment HTML and of hostile
   markup (unclosed quotes, endless references, tags in every other character): microseconds per KB, each
   against the ordinary HTML, to show it stays linear.

Coral carries on without the phase (the comment is published unmoderated) when the answer is late, so the
phase's timeout should cover the p99 at the concurrency a site sees; the benchmark prints the one this
machine supports.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import html
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_inference import BASE, CACHE, Server, comments, export, percentile

MODELS = Path(os.environ.get("BENCH_MODELS_DIR", str(CACHE)))
MODEL = MODELS / "original-base-onnx-int8"
SECRET = "ems_" + "5c" * 34
CORAL_TIMEOUT_MS = 200  # Coral's default phase timeout
CLIENTS_REQUESTS = {1: 40, 16: 160, 50: 250}  # requests per run at each concurrency
RUNS = 2
HOSTILE_KB = 100


def as_coral_html(text: str) -> str:
    """`text` as Coral's editor would store it: two paragraphs, every seventh word bold, escaped."""
    words = [html.escape(w) for w in text.split(" ")]
    words = [f"<b>{w}</b>" if i % 7 == 3 else w for i, w in enumerate(words)]
    half = len(words) // 2
    return f"<p>{' '.join(words[:half])}</p><p>{' '.join(words[half:])}</p>"


def coral_body(comment_html: str, index: int) -> bytes:
    data = {
        "action": "NEW",
        "comment": {"body": comment_html, "parentID": None},
        "author": {"id": f"user-{index}", "role": "COMMENTER"},
        "story": {"id": "story-bench", "url": "https://news.example.org/bench"},
        "site": {"id": "site-bench"},
        "tenantID": "tenant-bench",
        "tenantDomain": "comments.example.org",
    }
    return json.dumps(data, indent=2, ensure_ascii=False).encode()


async def load(url: str, door: str, texts: Sequence[str], clients: int) -> tuple[float, list[float]]:
    """Every text once through `door` ("moderate" or "coral") from `clients` concurrent clients;
    (comments per second, latencies in s)."""
    import httpx

    if door == "coral":
        bodies = [coral_body(as_coral_html(t), i) for i, t in enumerate(texts)]
        requests = [
            (
                "/v1/coral/moderate",
                b,
                {
                    "Content-Type": "application/json",
                    "X-Coral-Signature": "sha256=" + hmac.new(SECRET.encode(), b, hashlib.sha256).hexdigest(),
                },
            )
            for b in bodies
        ]
    else:
        requests = [
            ("/v1/moderate", json.dumps({"text": t}).encode(), {"Content-Type": "application/json"})
            for t in texts
        ]
    queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def worker() -> None:
            while not queue.empty():
                path, body, headers = queue.get_nowait()
                started = time.perf_counter()
                r = await client.post(path, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                answer = r.json() if r.status_code == 200 else None
                fresh = answer is not None and (
                    answer.get("cached") is False or answer.get("moderation", {}).get("verdict") is not None
                )
                if not fresh:
                    raise RuntimeError(f"unexpected answer {r.status_code}: {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return len(texts) / wall, latencies


def summary(rates: list[float], latencies: list[float]) -> dict[str, float]:
    return {
        "rate": statistics.median(rates),
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "within_timeout": sum(1 for s in latencies if s * 1000 <= CORAL_TIMEOUT_MS) / len(latencies),
    }


def serve_and_measure() -> dict[int, dict[str, dict[str, float]]]:
    os.environ["MODERATION_CORAL_SECRETS"] = SECRET
    server = Server(MODEL)
    results: dict[int, dict[str, dict[str, float]]] = {}
    try:
        server.wait_ready()
        for door in ("moderate", "coral"):  # warm-up: first calls of each path, off the clock
            asyncio.run(load(server.url, door, comments(32, seed=7 if door == "coral" else 8), 16))
        for clients, count in CLIENTS_REQUESTS.items():
            rates: dict[str, list[float]] = {"moderate": [], "coral": []}
            latencies: dict[str, list[float]] = {"moderate": [], "coral": []}
            for run in range(RUNS):
                texts = comments(count, seed=1000 * clients + run)
                order = ("moderate", "coral") if run % 2 == 0 else ("coral", "moderate")
                for door in order:
                    rate, lat = asyncio.run(load(server.url, door, texts, clients))
                    rates[door].append(rate)
                    latencies[door].extend(lat)
            results[clients] = {door: summary(rates[door], latencies[door]) for door in rates}
    finally:
        server.stop()
    return results


def html_reader() -> dict[str, float]:
    """Microseconds per KB of html_text on ordinary comment HTML and on hostile markup of the same size."""
    from service.moderation.html import html_text

    size = HOSTILE_KB * 1024
    ordinary = "".join(as_coral_html(t) for t in comments(400, seed=3))
    inputs = {
        "ordinary comment HTML": ordinary,
        'unclosed quotes (<a b="<a b="...)': '<a b="' * (size // 6),
        "references (&#9&amp&#x...)": "&#9&amp&#x" * (size // 10),
        "a tag every other character": "<b>x</b>" * (size // 8),
        "lone < and & (a<&b<&...)": "a<&b" * (size // 4),
    }
    out: dict[str, float] = {}
    for name, source in inputs.items():
        source = (source * (size // max(len(source), 1) + 1))[:size]
        html_text(source)
        best = min(_timed(lambda source=source: html_text(source)) for _ in range(5))
        out[name] = best * 1e6 / (len(source) / 1024)
    return out


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> int:
    if not (MODEL / "model.onnx").is_file():
        if "BENCH_MODELS_DIR" in os.environ:
            print(f"no ONNX int8 export at {MODEL} (BENCH_MODELS_DIR)", file=sys.stderr)
            return 2
        from service.model.demo import build_base_checkpoint

        print("building the bert-base checkpoint and its ONNX int8 export (once) ...", flush=True)
        build_base_checkpoint(BASE)
        export("onnx-int8", int8=True, optimize=True)
    load_before = os.getloadavg()
    print(f"bert-base ONNX int8 ({MODEL}), {os.cpu_count()} CPUs, load average {load_before[0]:.2f} at start")
    results = serve_and_measure()
    print(
        f"\nover HTTP, the same ~300-character comments; Coral's as signed HTML (runs {RUNS}; "
        f"'≤{CORAL_TIMEOUT_MS} ms': answered within Coral's default timeout)"
    )
    print(f"  {'clients':>7}  {'door':22} {'comments/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'≤200 ms':>8}")
    for clients, doors in results.items():
        for door, r in doors.items():
            name = "/v1/moderate" if door == "moderate" else "/v1/coral/moderate"
            print(
                f"  {clients:>7}  {name:22} {r['rate']:10.1f} {r['p50_ms']:8.0f} {r['p99_ms']:8.0f} "
                f"{100 * r['within_timeout']:7.0f}%"
            )
        base, coral = doors["moderate"], doors["coral"]
        print(
            f"  {'':>7}  Coral vs /v1/moderate: throughput {coral['rate'] / base['rate']:.3f}x, "
            f"p50 {coral['p50_ms'] / base['p50_ms']:.3f}x, p99 {coral['p99_ms'] / base['p99_ms']:.3f}x"
        )
    busiest = results[max(results)]["coral"]["p99_ms"]
    suggested = math.ceil(busiest * 1.5 / 100) * 100
    print(
        f"\nCoral phase timeout for up to {max(results)} comments in flight on this machine: {suggested} ms "
        f"(p99 {busiest:.0f} ms x 1.5, rounded up to 100 ms)"
    )
    print(f"\nHTML reader, {HOSTILE_KB} KB each (best of 5):")
    reader = html_reader()
    ordinary = reader["ordinary comment HTML"]
    for name, us_per_kb in reader.items():
        print(f"  {name:36s} {us_per_kb:8.1f} µs/KB  {us_per_kb / ordinary:5.2f}x ordinary")
    print(f"\nload average at end {os.getloadavg()[0]:.2f} (started at {load_before[0]:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
