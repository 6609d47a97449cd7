"""Word-list benchmark: the engine against better-profanity 0.7.0 on the same ~300-character comments,
and the engine on 10,000-character comments (cost should grow linearly with length).

Run: `python -m tests.benchmarks.bench_wordlist` (about a minute). Prints the median of several runs.
The comments are generated from wordfreq's common English words with a fixed seed; about one in ten
carries a listed term (plain or disguised) and one in ten a benign look-alike, like a real comment stream.
"""

from __future__ import annotations

import pathlib
import random
import statistics
import time

import wordfreq

from service.moderation.wordlist import WordList

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
SEED = 20240611
RUNS = 5
ENGINE_COMMENTS = 2000
BASELINE_COMMENTS = 30
BASELINE_RUNS = 3
LONG_COMMENTS = 40

OFFENSIVE = ["fuck", "f u c k", "sh!t", "a$$hole", "fuuuuck", "f*ck", "youareanasshole", "b1tch", "crap", "Ｆ𝐮сk"]
BENIGN = ["Scunthorpe", "assassin", "cocktail", "classic", "therapist", "Essex", "shiitake", "grapes", "analysis"]


def _listed() -> set[str]:
    from better_profanity import profanity

    profanity.load_censor_words()
    return {str(w).lower() for w in profanity.CENSOR_WORDSET}


def make_comments(n: int, length: int, rng: random.Random) -> list[str]:
    listed = _listed()
    # wordfreq counts social media too: keep its listed words out of the clean text, as a real stream has
    # most comments clean.
    vocab = [w for w in wordfreq.top_n_list("en", 5000) if w.isalpha() and w not in listed]
    out = []
    for _ in range(n):
        words: list[str] = []
        size = 0
        roll = rng.random()
        while size < length:
            sentence = [rng.choice(vocab) for _ in range(rng.randint(5, 14))]
            sentence[0] = sentence[0].capitalize()
            text = " ".join(sentence) + rng.choice([".", ".", ".", "!", "?", ","])
            words.append(text)
            size += len(text) + 1
        comment = " ".join(words)[:length]
        if roll < 0.1:
            pos = rng.randrange(len(comment))
            comment = comment[:pos] + " " + rng.choice(OFFENSIVE) + " " + comment[pos:]
        elif roll < 0.2:
            pos = rng.randrange(len(comment))
            comment = comment[:pos] + " " + rng.choice(BENIGN) + " " + comment[pos:]
        out.append(comment[:length])
    return out


def per_comment_us(fn, texts: list[str]) -> float:
    start = time.perf_counter()
    for t in texts:
        fn(t)
    return (time.perf_counter() - start) / len(texts) * 1e6


def main() -> None:
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    wl = WordList.load(RULES)
    load_s = time.perf_counter() - t0
    short = make_comments(ENGINE_COMMENTS, 300, rng)
    long = make_comments(LONG_COMMENTS, 10_000, rng)

    from better_profanity import profanity

    profanity.load_censor_words()
    baseline_texts = short[:BASELINE_COMMENTS]

    engine_runs = [per_comment_us(wl.find, short) for _ in range(RUNS)]
    engine_same = [per_comment_us(wl.find, baseline_texts) for _ in range(RUNS)]
    baseline_runs = [per_comment_us(profanity.contains_profanity, baseline_texts) for _ in range(BASELINE_RUNS)]
    long_runs = [per_comment_us(wl.find, long) for _ in range(RUNS)]

    engine = statistics.median(engine_runs)
    same = statistics.median(engine_same)
    baseline = statistics.median(baseline_runs)
    long_med = statistics.median(long_runs)
    flagged = sum(1 for t in short if wl.find(t))
    print(f"word list {wl.version}: loaded in {load_s:.2f} s")
    print(f"300-char comments ({ENGINE_COMMENTS}, {flagged} flagged): engine median {engine:.1f} us/comment "
          f"({1e6 / engine:,.0f} comments/s); runs {[round(r, 1) for r in engine_runs]}")
    print(f"better-profanity 0.7.0 contains_profanity, same texts ({BASELINE_COMMENTS}): median "
          f"{baseline / 1000:.1f} ms/comment; runs {[round(r / 1000, 1) for r in baseline_runs]}")
    print(f"engine on those {BASELINE_COMMENTS} texts: median {same:.1f} us/comment")
    print(f"ratio (better-profanity / engine, same {BASELINE_COMMENTS} texts): {baseline / same:,.0f}x; "
          f"against the engine's {ENGINE_COMMENTS}-comment median: {baseline / engine:,.0f}x")
    print(f"10,000-char comments ({LONG_COMMENTS}): engine median {long_med:.1f} us/comment; "
          f"per character {long_med / 10_000 * 1000:.2f} ns vs {engine / 300 * 1000:.2f} ns at 300 chars "
          f"(length x{10_000 / 300:.1f}, time x{long_med / engine:.1f})")


if __name__ == "__main__":
    main()
