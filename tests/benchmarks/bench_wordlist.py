"""Word-list benchmark: the engine against better-profanity 0.7.0 on the same ~300-character comments, the
engine on 10,000-character comments (cost should grow linearly with length), and the engine on hostile
input (issue 10) next to plain text of the same length.

Run: `python -m tests.benchmarks.bench_wordlist` (well under two minutes). Exit status 1 if a target is
missed: better-profanity's time at least TARGET_RATIO times the engine's, and no hostile input costing more
than HOSTILE_TARGET times plain text at 10,000 characters.

The machine this runs on is shared and noisy, so:
- the engine and better-profanity are measured in rounds, each on its own batch of comments, and within a
  round they alternate in blocks: better-profanity on a quarter of the batch (about half a second), then the
  engine on the whole batch 20 times over (some 15 ms), four times, who goes first alternating,
  so load affects both alike; each round gives a ratio and the verdict is the median ratio. (A block of
  engine passes is long enough to measure throughput, as the issue asks; alternating at every comment
  instead would measure a cold start after each 50 ms of better-profanity evicting the engine's tables
  from the CPU caches, which is latency, not throughput.)
- times are CPU time of this process (`time.process_time`), which does not count the time the process waits
  for a core; wall-clock medians are printed alongside.

Hostile input: each text of tests/wordlist/hostile.py (the inputs of issue 10 and the others found while
fixing them) at 1,000 and 10,000 characters, against plain text of the same length: ordinary comment text,
or, for an input with matches, ordinary text with the terms it matched written plainly among it, once per
match (building a match costs what it costs whatever the disguise; what is compared is the disguise's
cost). The token caches are emptied before each call (a hostile client sends text never seen); each figure
is the median over rounds, hostile and plain alternating.

The comments are built with a fixed seed from wordfreq's common English words, cut at a word boundary just
under the length. Each batch has exactly one in ten comments carrying a listed term (plain or disguised) and
one in ten a benign look-alike; about one in three has a misspelt word, as real comments do, so the engine's
path for words outside its vocabulary is measured too (its cache of such words is emptied before every pass,
so they cost what a first sight costs).
"""

from __future__ import annotations

import pathlib
import random
import statistics
import sys
import time
from collections.abc import Callable

import wordfreq

from service.moderation.types import WordMatch
from service.wordlist.index import Work
from service.wordlist.language import Languages
from service.wordlist.matcher import WordList
from tests.wordlist.hostile import HOSTILE_OF_LENGTH

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
SEED = 20240611
TARGET_RATIO = 2500  # the requirement: engine throughput / better-profanity's, same texts
ROUNDS = 9
BATCH = 40  # comments per round; better-profanity takes about 50 ms each
BLOCKS = 4  # alternations per round
ENGINE_PASSES = 20  # passes of the engine over the batch per block
FLAGGED_SHARE = 0.1
BENIGN_SHARE = 0.1
TYPO_SHARE = 0.3
STREAM_COMMENTS = 2000
STREAM_RUNS = 5  # each followed by a run over the long comments
LONG_COMMENTS = 40
HOSTILE_LENGTHS = (1_000, 10_000)
HOSTILE_ROUNDS = 7
HOSTILE_CALLS = {1_000: 20, 10_000: 3}  # calls per round and length: a round takes a few milliseconds
HOSTILE_TARGET = 3.0  # the requirement: hostile input / plain text, same length, at 10,000 chars

OFFENSIVE = [
    "fuck", "f u c k", "sh!t", "a$$hole", "fuuuuck", "f*ck", "youareanasshole", "b1tch", "crap", "Ｆ𝐮сk",
    "f*k", "phuck", "di(k", "shitstorm",
]  # fmt: skip
BENIGN = [
    "Scunthorpe", "assassin", "cocktail", "classic", "therapist", "Essex", "shiitake", "grapes", "analysis",
]  # fmt: skip


def _listed() -> set[str]:
    from better_profanity import profanity

    profanity.load_censor_words()
    return {str(w).lower() for w in profanity.CENSOR_WORDSET}


def _vocabulary() -> list[str]:
    # wordfreq counts social media too: keep its listed words out of the clean text.
    listed = _listed()
    return [w for w in wordfreq.top_n_list("en", 5000) if w.isalpha() and w not in listed]


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 2)
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def make_comment(kind: str, length: int, vocab: list[str], rng: random.Random) -> str:
    """One comment of about `length` characters (whole words); kind: clean, flagged or benign."""
    parts: list[str] = []
    size = 0
    while size < length:
        sentence = [rng.choice(vocab) for _ in range(rng.randint(5, 14))]
        sentence[0] = sentence[0].capitalize()
        text = " ".join(sentence) + rng.choice([".", ".", ".", "!", "?", ","])
        parts.append(text)
        size += len(text) + 1
    comment = " ".join(parts)
    if rng.random() < TYPO_SHARE:
        words = comment.split(" ")
        i = rng.randrange(len(words))
        words[i] = _typo(words[i], rng)
        comment = " ".join(words)
    insert = {"flagged": OFFENSIVE, "benign": BENIGN}.get(kind)
    if insert:
        pos = rng.randrange(length - 20)
        comment = comment[:pos] + " " + rng.choice(insert) + " " + comment[pos:]
    # End at the last space before `length` characters: a real comment does not end in half a word.
    return comment[: comment.rfind(" ", 0, length + 1)]


def make_batch(n: int, length: int, vocab: list[str], rng: random.Random) -> list[str]:
    flagged, benign = round(n * FLAGGED_SHARE), round(n * BENIGN_SHARE)
    kinds = ["flagged"] * flagged + ["benign"] * benign + ["clean"] * (n - flagged - benign)
    rng.shuffle(kinds)
    return [make_comment(k, length, vocab, rng) for k in kinds]


def timed(
    fn: Callable[[str], object], texts: list[str], passes: int, before_pass: Callable[[], None]
) -> tuple[float, float]:
    """(CPU µs, wall µs) per comment over `passes` passes of `texts`."""
    cpu = wall = 0.0
    for _ in range(passes):
        before_pass()
        c0, w0 = time.process_time(), time.perf_counter()
        for t in texts:
            fn(t)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
    n = len(texts) * passes
    return cpu / n * 1e6, wall / n * 1e6


def plain_text(length: int, terms: list[str], vocab: list[str], rng: random.Random) -> str:
    """Ordinary comment text of about `length` characters, with `terms` written plainly among it (the text
    is longer where they need it)."""
    if not terms:
        return make_comment("clean", length, vocab, rng)
    words = list(terms)
    size = sum(len(t) + 1 for t in terms)
    while size < length:
        words.append(rng.choice(vocab).lower())
        size += len(words[-1]) + 1
    rng.shuffle(words)
    return " ".join(words)


def first_sight(wl: WordList, text: str, calls: int) -> float:
    """CPU seconds per find(text), the token caches emptied before each call (not timed)."""
    total = 0.0
    for _ in range(calls):
        wl.clear_token_cache()
        t0 = time.process_time()
        wl.find(text)
        total += time.process_time() - t0
    return total / calls


def hostile_table(wl: WordList, vocab: list[str]) -> bool:
    """Print each hostile input's time at each length next to plain text's; whether all meet the target."""
    inputs = [
        ("plain text", lambda n: plain_text(n, [], vocab, random.Random(n))),
        *HOSTILE_OF_LENGTH.items(),
    ]
    rows: list[tuple[str, dict[int, tuple[float, float, int, int]]]] = []
    for name, make in inputs:
        by_length = {}
        for length in HOSTILE_LENGTHS:
            text = make(length)
            matches = wl.find(text)
            terms = [m.term for m in matches]
            # The same plain text for every input without matches; with matches, the same words around them.
            plain = plain_text(length, terms, vocab, random.Random(length))
            assert len(wl.find(plain)) >= len(matches), name
            hostile_runs, plain_runs = [], []
            for r in range(HOSTILE_ROUNDS):
                for what in ("hostile", "plain") if r % 2 == 0 else ("plain", "hostile"):
                    if what == "hostile":
                        hostile_runs.append(first_sight(wl, text, HOSTILE_CALLS[length]))
                    else:
                        plain_runs.append(first_sight(wl, plain, HOSTILE_CALLS[length]))
            work = Work()
            wl.clear_token_cache()
            wl.find(text, work)
            by_length[length] = (
                statistics.median(hostile_runs),
                statistics.median(plain_runs),
                len(matches),
                work.chars,
            )
        rows.append((name, by_length))

    print(
        f"hostile input (issue 10), CPU time per comment seen for the first time, median of {HOSTILE_ROUNDS} "
        f"rounds; x plain: over plain text of the same length, its matches written plainly (target <= "
        f"{HOSTILE_TARGET:g}x at 10k):"
    )
    # "plain 10k/1k": how the plain text with the same matches grows. Thousands of match objects cost more
    # each than hundreds (allocation, the garbage collector), whichever text they come from. "work": the
    # engine's own count of its work (Work), which no clock or collector disturbs.
    heading = (
        "input",
        "matches",
        "1k",
        "10k",
        "10k/1k",
        "work 10k/1k",
        "plain 10k/1k",
        "x plain 1k",
        "x plain 10k",
    )
    print("  {:28s} {:>8s} {:>10s} {:>10s} {:>7s} {:>12s} {:>13s} {:>11s} {:>12s}".format(*heading))
    ok = True
    for name, by_length in rows:
        (h1, p1, _, w1), (h10, p10, matched, w10) = by_length[1_000], by_length[10_000]
        over = h10 / p10
        ok = ok and over <= HOSTILE_TARGET
        print(
            f"  {name:28s} {matched:8d} {h1 * 1e6:8.0f}us {h10 * 1e6:8.0f}us {h10 / h1:7.1f} {w10 / w1:12.1f} "
            f"{p10 / p1:13.1f} "
            f"{h1 / p1:10.1f}x {over:11.1f}x{'' if over <= HOSTILE_TARGET else '  > target'}"
        )
    return ok


def main() -> int:
    started = time.perf_counter()
    rng = random.Random(SEED)
    vocab = _vocabulary()
    t0 = time.perf_counter()
    wl = WordList.load(RULES)
    load_s = time.perf_counter() - t0

    from better_profanity import profanity

    profanity.load_censor_words()
    batches = [make_batch(BATCH, 300, vocab, rng) for _ in range(ROUNDS)]
    stream = make_batch(STREAM_COMMENTS, 300, vocab, rng)
    long = make_batch(LONG_COMMENTS, 10_000, vocab, rng)
    forget = wl.clear_token_cache
    languages = Languages()

    def engine(text: str) -> list[WordMatch]:
        # As the pipeline runs it for a comment without `lang`: the matches, then those its language keeps
        # (the language detector runs only for a comment that matched something).
        return languages.judge(text, None, wl.find(text))[0]

    def nothing() -> None:
        pass

    for t in batches[0]:  # warm both up (first calls build caches of their own)
        engine(t)
        profanity.contains_profanity(t)

    rounds = []
    for r, batch in enumerate(batches):
        engine_cpu = engine_wall = base_cpu = base_wall = 0.0
        size = len(batch) // BLOCKS
        for block in range(BLOCKS):
            part = batch[block * size : (block + 1) * size]
            for what in ("baseline", "engine") if (r + block) % 2 == 0 else ("engine", "baseline"):
                if what == "baseline":
                    cpu, wall = timed(profanity.contains_profanity, part, 1, nothing)
                    base_cpu, base_wall = base_cpu + cpu, base_wall + wall
                else:
                    cpu, wall = timed(engine, batch, ENGINE_PASSES, forget)
                    engine_cpu, engine_wall = engine_cpu + cpu, engine_wall + wall
        rounds.append(((engine_cpu / BLOCKS, engine_wall / BLOCKS), (base_cpu / BLOCKS, base_wall / BLOCKS)))

    stream_runs, long_runs = [], []
    for _ in range(STREAM_RUNS):  # alternated, so the per-character comparison sees the same load
        stream_runs.append(timed(engine, stream, 1, forget))
        long_runs.append(timed(engine, long, 1, forget))

    engine_cpu = statistics.median(e[0] for e, _b in rounds)
    engine_wall = statistics.median(e[1] for e, _b in rounds)
    base_cpu = statistics.median(b[0] for _e, b in rounds)
    base_wall = statistics.median(b[1] for _e, b in rounds)
    ratios = [b[0] / e[0] for e, b in rounds]
    ratio = statistics.median(ratios)
    wall_ratio = statistics.median(b[1] / e[1] for e, b in rounds)
    stream_cpu = statistics.median(r[0] for r in stream_runs)
    long_cpu = statistics.median(r[0] for r in long_runs)
    flagged = sum(1 for t in stream if wl.find(t))
    per_round = sum(1 for b in batches for t in b if wl.find(t)) / ROUNDS

    print(f"word list {wl.version}: loaded in {load_s:.2f} s")
    print(
        f"{ROUNDS} rounds of {BATCH} comments of 300 chars ({per_round:.1f} flagged per round on average), "
        f"engine and better-profanity 0.7.0 alternating; CPU time per comment:"
    )
    for i, ((e_cpu, _), (b_cpu, _)) in enumerate(rounds):
        print(
            f"  round {i + 1}: engine {e_cpu:6.1f} us   better-profanity {b_cpu / 1000:6.1f} ms   "
            f"ratio {b_cpu / e_cpu:7,.0f}x"
        )
    print(
        f"engine median {engine_cpu:.1f} us/comment CPU ({engine_wall:.1f} us wall); "
        f"better-profanity median {base_cpu / 1000:.1f} ms/comment CPU ({base_wall / 1000:.1f} ms wall)"
    )
    print(
        f"ratio, median over rounds: {ratio:,.0f}x CPU (wall: {wall_ratio:,.0f}x); "
        f"range {min(ratios):,.0f}x - {max(ratios):,.0f}x"
    )
    print(
        f"stream of {STREAM_COMMENTS} comments of 300 chars ({flagged} flagged): engine median "
        f"{stream_cpu:.1f} us/comment CPU ({1e6 / stream_cpu:,.0f} comments/s per core); "
        f"runs {[round(r[0], 1) for r in stream_runs]}"
    )
    print(
        f"10,000-char comments ({LONG_COMMENTS}): engine median {long_cpu:.1f} us/comment CPU; "
        f"per character "
        f"{long_cpu / 10_000 * 1000:.2f} ns vs {stream_cpu / 300 * 1000:.2f} ns at 300 chars "
        f"(length x{10_000 / 300:.1f}, time x{long_cpu / stream_cpu:.1f})"
    )
    hostile_ok = hostile_table(wl, vocab)
    print(f"finished in {time.perf_counter() - started:.0f} s")
    ok = ratio >= TARGET_RATIO
    verdict, sign = ("PASS", ">=") if ok else ("FAIL", "<")
    print(f"{verdict}: median ratio {ratio:,.0f}x {sign} target {TARGET_RATIO:,}x")
    verdict, sign = ("PASS", "<=") if hostile_ok else ("FAIL", ">")
    print(
        f"{verdict}: hostile input at 10k characters {sign} {HOSTILE_TARGET:g}x plain text's time (each row)"
    )
    return 0 if ok and hostile_ok else 1


if __name__ == "__main__":
    sys.exit(main())
