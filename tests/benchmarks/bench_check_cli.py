"""`moderation check -` against better-profanity 0.7.0 on the same comments (issue 11): the command reads one
comment per line and writes one JSON line per comment, so its throughput is the engine's plus reading and
writing.

Run: `python -m tests.benchmarks.bench_check_cli` (about half a minute). It prints figures and exits 0: the
issue's target is the engine's (bench_wordlist.py); this one says what the command adds to it.

The comments are bench_wordlist.py's realistic mix (its generator and seed: names, numbers, rare words,
misspellings, ~15% with a listed term plainly or disguised), COMMENTS of 300 characters. The command runs in
this process through the `moderation` entry point (`service.cli.main(["check", "-"])`), stdin a StringIO of
the comments, stdout a UTF-8 text stream over a BytesIO (it encodes as a file or pipe does). Each run loads
the word list as the command does (from the process's cache of built lists after the first) and empties
the engine's token caches first, so every comment costs a first sight, as in bench_wordlist.

Rounds, as in bench_wordlist (the machine is shared): better-profanity's `contains_profanity` on BASELINE of
the comments, then the command over all of them, then the engine alone (`WordList.find`) over all of them,
the order rotating per round; CPU time of this process; the verdict is the median over ROUNDS. The
command's time per comment is given whole and less the cost of a run over no input (loading the rules).
"""

from __future__ import annotations

import io
import random
import statistics
import sys
import time
from collections.abc import Callable

from service.cli import main as moderation
from service.wordlist.matcher import WordList
from tests.benchmarks.bench_wordlist import RULES, SEED, load_mix, make_batch

COMMENTS = 2000
BASELINE = 20  # better-profanity takes about 45 ms a comment
ROUNDS = 7


def run_check(wordlist: WordList, lines: str) -> bytes:
    """`moderation check -` over `lines`; what it wrote, as bytes."""
    wordlist.clear_token_cache()
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\n")
    stdin, stdout = sys.stdin, sys.stdout
    sys.stdin, sys.stdout = io.StringIO(lines), out
    try:
        code = moderation(["check", "--rules", str(RULES), "-"])
    finally:
        sys.stdin, sys.stdout = stdin, stdout
    assert code == 0
    out.flush()
    return out.buffer.getvalue()  # type: ignore[attr-defined,no-any-return]


def cpu(fn: Callable[[], object]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main() -> int:
    started = time.perf_counter()
    from better_profanity import profanity

    profanity.load_censor_words()
    texts = make_batch(COMMENTS, 300, load_mix(), random.Random(SEED + 1))
    lines = "".join(t + "\n" for t in texts)
    wordlist = WordList.load(RULES)
    out = run_check(wordlist, lines)  # warm up, and check what it wrote
    assert out.count(b"\n") == COMMENTS
    flagged = out.count(b'"matches": [{')

    def find_all() -> None:
        wordlist.clear_token_cache()
        for t in texts:
            wordlist.find(t)

    def baseline(r: int) -> Callable[[], None]:
        part = texts[r * BASELINE % COMMENTS :][:BASELINE]
        return lambda: [profanity.contains_profanity(t) for t in part] and None

    rows = []
    for r in range(ROUNDS):
        steps: list[tuple[str, Callable[[], object]]] = [
            ("baseline", baseline(r)),
            ("check", lambda: run_check(wordlist, lines)),
            ("empty", lambda: run_check(wordlist, "")),
            ("find", find_all),
        ]
        steps = steps[r % len(steps) :] + steps[: r % len(steps)]
        took = {name: cpu(fn) for name, fn in steps}
        rows.append(
            {
                "baseline": took["baseline"] / BASELINE,
                "check": took["check"] / COMMENTS,
                "lines": (took["check"] - took["empty"]) / COMMENTS,
                "find": took["find"] / COMMENTS,
                "empty": took["empty"],
            }
        )

    def med(key: str) -> float:
        return statistics.median(row[key] for row in rows)

    print(
        f"{ROUNDS} rounds: `moderation check -` over {COMMENTS} comments of 300 chars ({flagged} with matches, "
        f"seed {SEED + 1}), better-profanity 0.7.0 on {BASELINE} of them; CPU time per comment:"
    )
    for i, row in enumerate(rows):
        print(
            f"  round {i + 1}: check {row['check'] * 1e6:6.1f} us (less loading {row['lines'] * 1e6:6.1f} us)"
            f"   find {row['find'] * 1e6:6.1f} us   better-profanity {row['baseline'] * 1e3:5.1f} ms"
            f"   ratio {row['baseline'] / row['check']:6,.0f}x"
        )
    base, check, per_line, find = med("baseline"), med("check"), med("lines"), med("find")
    print(
        f"medians: check {check * 1e6:.1f} us/comment ({1 / check:,.0f} comments/s per core), of which "
        f"{med('empty') * 1e3:.1f} ms a run loading the rules; the engine alone {find * 1e6:.1f} us; "
        f"reading and writing {max(per_line - find, 0) * 1e6:.1f} us/comment"
    )
    print(
        f"ratio to better-profanity ({base * 1e3:.1f} ms/comment), median over rounds: "
        f"check {statistics.median(r['baseline'] / r['check'] for r in rows):,.0f}x, "
        f"less loading {statistics.median(r['baseline'] / r['lines'] for r in rows):,.0f}x, "
        f"engine alone {statistics.median(r['baseline'] / r['find'] for r in rows):,.0f}x"
    )
    print(f"finished in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
