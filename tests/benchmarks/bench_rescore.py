"""Rescoring benchmark: `rescore` throughput (one worker) against the in-process scorer on the same texts, and
rescore's peak memory on 10k and 200k rows.

Run: `python -m tests.benchmarks.bench_rescore` (about four minutes on 2 cores). Exit status 1 if a target is
missed: throughput ratio >= 0.9, peak RSS at 200k rows within 10% (+20 MB) of that at 10k rows.

- Throughput uses the architecture of Detoxify's `original` model (bert-base, random weights:
  tests/fixtures/detoxify_checkpoints.build_base_checkpoint, cached under .cache/bench-models/). The baseline
  is `scorer.score` on batches of BATCH_MAX_SIZE comments in input order; rescoring is `rescore_file` (read,
  word lists, pipeline, policy, JSONL out, fsynced checkpoints) with the same loaded scorer, timed from its
  first chunk (model and word-list loading left out of both). Rounds alternate, so machine noise hits both.
- Memory runs `python -m service rescore` as a child process with MODERATION_MODEL=none (word lists and
  policy only) and reads its peak RSS from wait4. What could grow with the input is the reader, the writer,
  the checkpoints and the summary, which this path runs in full; the model's memory depends on the batch, not
  on the input's length, and bert-base would take hours over 200k rows on 2 cores.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import wordfreq

from service.config import Settings
from service.moderation.toxicity import load_scorer
from service.rescore import Options, rescore_file
from tests.fixtures.detoxify_checkpoints import build_base_checkpoint

ROOT = Path(__file__).resolve().parents[2]
SEED = 20261127
THROUGHPUT_ROWS = 96
ROUNDS = 2
MEMORY_ROWS = (10_000, 200_000)
TARGET_RATIO = 0.9


def _texts(n: int, rng: random.Random) -> list[str]:
    words = wordfreq.top_n_list("en", 5000)
    return [" ".join(rng.choices(words, k=rng.randint(8, 60))) for _ in range(n)]


def _write_input(path: Path, texts: list[str]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            f.write(json.dumps({"id": f"c{i}", "text": text, "verdict": "accept"}) + "\n")
    return path


def throughput(tmp: Path) -> float:
    folder = build_base_checkpoint(ROOT / ".cache/bench-models/original-base")
    settings = Settings(MODEL_PATH=folder, REDIS_URL=None, LOG_LEVEL="WARNING")
    scorer = load_scorer("original", folder, settings.model_threads)
    texts = _texts(THROUGHPUT_ROWS, random.Random(SEED))
    src = _write_input(tmp / "throughput.jsonl", texts)
    size = settings.BATCH_MAX_SIZE
    scorer.score(texts[:size])  # warm-up
    baseline, rescore = [], []
    for round_ in range(ROUNDS):
        started = time.perf_counter()
        for i in range(0, len(texts), size):
            scorer.score(texts[i : i + size])
        baseline.append(len(texts) / (time.perf_counter() - started))
        out = tmp / f"out-{round_}.jsonl"
        summary = rescore_file(settings, Options(input=str(src), output=str(out), progress=False),
                               scorer_factory=lambda: scorer)
        rescore.append(summary.judged / summary.elapsed_s)
        print(f"  round {round_ + 1}: in-process scorer {baseline[-1]:.1f} rows/s, rescore {rescore[-1]:.1f} rows/s")
    ratio = statistics.median(rescore) / statistics.median(baseline)
    print(f"throughput (bert-base, {settings.model_threads} threads, batches of {size}, {len(texts)} comments): "
          f"in-process {statistics.median(baseline):.1f} rows/s, rescore {statistics.median(rescore):.1f} rows/s, "
          f"ratio {ratio:.2f} (target >= {TARGET_RATIO})")
    return ratio


def peak_rss_mb(tmp: Path, rows: int) -> tuple[float, float]:
    src = _write_input(tmp / f"mem-{rows}.jsonl", _texts(rows, random.Random(SEED + rows)))
    env = {**os.environ, "MODERATION_MODEL": "none", "MODERATION_LOG_LEVEL": "ERROR"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "service", "rescore", str(src), "-o", str(tmp / f"mem-{rows}.out.jsonl"),
         "--no-progress"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"rescore of {rows} rows failed ({proc.returncode}): {err}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started  # Linux reports KiB


def main() -> int:
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-rescore-") as name:
        tmp = Path(name)
        ratio = throughput(tmp)
        ok &= ratio >= TARGET_RATIO
        peaks = {}
        for rows in MEMORY_ROWS:
            peaks[rows], seconds = peak_rss_mb(tmp, rows)
            print(f"memory (MODERATION_MODEL=none): {rows} rows, peak RSS {peaks[rows]:.0f} MB, {seconds:.0f} s")
        small, large = peaks[MEMORY_ROWS[0]], peaks[MEMORY_ROWS[1]]
        flat = large <= small * 1.1 + 20
        print(f"memory flat: {'yes' if flat else 'NO'} ({large - small:+.0f} MB from {MEMORY_ROWS[0]} to "
              f"{MEMORY_ROWS[1]} rows)")
        ok &= flat
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
