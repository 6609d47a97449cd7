"""Word-list benchmark: the engine against better-profanity 0.7.0 on the same ~300-character comments, the
engine on 10,000-character comments (cost should grow linearly with length), and the engine on hostile
input (issue 10) next to plain text of the same length.

Run: `python -m tests.benchmarks.bench_wordlist` (about a minute). Exit status 1 if a target is
missed: better-profanity's time at least TARGET_RATIO times the engine's, and no hostile input costing more
than HOSTILE_TARGET times plain text at 10,000 characters. `--profile` instead runs cProfile over the engine
on the same batches and prints where its time goes and how many comments leave at each stage.
`--compare OTHER_CHECKOUT` instead times this checkout's engine against another's (an earlier commit's
worktree) in the same process on the same batches, alternating, and prints the ratio: a change's effect on a
machine too noisy for the ratio to better-profanity to show it (see `compare`).

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

The comments (issue 11's "realistic mix"), built with the fixed seed SEED and cut at a word boundary just
under the length, are sentences whose words are drawn, each on its own, from:
- wordfreq's 5,000 most frequent English words (most of the text);
- names, NAME_SHARE of the words: first names, surnames and places of Faker's en_US and en_GB providers
  (person and address: places are its real countries, US states and UK counties, not its `city()`, which
  invents names no place has, "Davidmouth", "South Anthonyfurt"), capitalised as Faker writes them,
  sometimes a first name and a surname together (Faker seeded with SEED: the names are fixed for a given
  Faker release, and may differ in another);
- numbers, NUMBER_SHARE: years, prices ($, £, €), scores, times of day, percentages, counts with a
  thousands comma, phone-like numbers;
- rare words, RARE_SHARE: wordfreq's English words ranked 50,000 to 300,000 (alphabetic ones);
- misspellings, TYPO_SHARE: a common word of four letters or more with one letter dropped, doubled,
  swapped with its neighbour, replaced by a neighbour on the keyboard, or one letter inserted.
Words better-profanity lists are left out of every pool (a misspelling may still make one, "shirt" to "shit";
the run prints how many comments of each kind the engine flags). Each batch has exactly FLAGGED_SHARE (~15%) of its
comments carrying a listed term, written plainly or disguised (DISGUISES: leet, masks, separators, repeated
letters, inflections, vowels dropped as in "fck", capitals, compounds as "shitstorm"), and BENIGN_SHARE a
benign look-alike ("Scunthorpe", "assassin"). The engine's caches of words outside its vocabulary are
emptied before every pass, so names, rare words and misspellings cost what a first sight costs.
"""

from __future__ import annotations

import cProfile
import pathlib
import pstats
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import wordfreq

from service.moderation.types import WordMatch
from service.wordlist.index import Work
from service.wordlist.language import Languages
from service.wordlist.matcher import WordList
from tests.wordlist.hostile import HOSTILE_OF_LENGTH

RULES = pathlib.Path(__file__).resolve().parents[2] / "rules"
SEED = 20261129
TARGET_RATIO = 2500  # the requirement: engine throughput / better-profanity's, same texts
ROUNDS = 9
BATCH = 40  # comments per round; better-profanity takes about 50 ms each
BLOCKS = 4  # alternations per round
ENGINE_PASSES = 20  # passes of the engine over the batch per block
FLAGGED_SHARE = 0.15  # comments with a listed term, plain or disguised
BENIGN_SHARE = 0.1  # comments with a benign look-alike
NAME_SHARE = 0.06  # of the words: person and place names
NUMBER_SHARE = 0.04
RARE_SHARE = 0.04
TYPO_SHARE = 0.04
RARE_RANKS = (50_000, 300_000)
STREAM_COMMENTS = 2000
STREAM_RUNS = 5  # each followed by a run over the long comments
LONG_COMMENTS = 40
# Lengths between, for the per-character cost: comments of each, about LONG_COMMENTS * 10,000 characters.
MIDDLE_LENGTHS = (1_000, 3_000)
HOSTILE_LENGTHS = (1_000, 10_000)
HOSTILE_ROUNDS = 7
HOSTILE_CALLS = {1_000: 20, 10_000: 3}  # calls per round and length: a round takes a few milliseconds
HOSTILE_TARGET = 3.0  # the requirement: hostile input / plain text, same length, at 10,000 chars

# Listed terms (each in rules/wordlist), to be written plainly or disguised; with their inflected forms.
OFFENSIVE = [
    "fuck", "shit", "bitch", "asshole", "bastard", "cunt", "slut", "whore", "wanker", "twat", "piss", "dick",
    "crap", "prick",
]  # fmt: skip
INFLECTED = [
    "fucking", "fucked", "fucker", "shitty", "shits", "bitches", "bitching", "assholes", "bastards", "sluts",
    "whores", "wankers", "pissed", "pissing", "dicks", "crappy",
]  # fmt: skip
GLUED = ["shitstorm", "youareanasshole", "dickhead", "bullshit", "motherfucker", "fuckwit"]
BENIGN = [
    "Scunthorpe", "assassin", "cocktail", "classic", "therapist", "Essex", "Sussex", "shiitake", "grapes",
    "analysis", "Dickens", "Hancock", "peacock", "scrapbook", "bassist", "Penistone", "passage",
    "harassment", "buttress", "Middlesex", "cucumber", "Dickinson", "Arsenal", "documents", "Cockburn",
]  # fmt: skip
LEET = {"a": "@4", "e": "3", "i": "1!", "o": "0", "s": "$5", "t": "7", "u": "v"}
KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
DISGUISES = ("plain", "inflected", "capitals", "leet", "mask", "separators", "repeats", "vowelless", "glued")


@dataclass(frozen=True)
class Mix:
    """The pools a comment's words are drawn from (see the module's docstring)."""

    common: list[str]
    names: list[str]
    rare: list[str]
    # The shares of the words drawn from names, numbers, rare words and misspellings; the rest are common.
    shares: tuple[float, float, float, float] = (NAME_SHARE, NUMBER_SHARE, RARE_SHARE, TYPO_SHARE)

    def common_only(self) -> Mix:
        """Plain text for the hostile-input comparison: common words alone, as before the mix."""
        return Mix(self.common, [], [], (0.0, 0.0, 0.0, 0.0))


def _listed() -> set[str]:
    from better_profanity import profanity

    profanity.load_censor_words()
    return {str(w).lower() for w in profanity.CENSOR_WORDSET}


def _vocabulary() -> list[str]:
    # wordfreq counts social media too: keep its listed words out of the clean text.
    listed = _listed()
    return [w for w in wordfreq.top_n_list("en", 5000) if w.isalpha() and w not in listed]


def load_mix() -> Mix:
    from faker import Faker

    listed = _listed()
    fake = Faker(["en_US", "en_GB"])
    fake.seed_instance(SEED)
    names: list[str] = []
    while len(names) < 3000:
        for name in (fake.first_name(), fake.last_name(), fake.administrative_unit(), fake.country()):
            if not any(w.lower() in listed for w in name.split()):
                names.append(name)
    lo, hi = RARE_RANKS
    rare = [w for w in wordfreq.top_n_list("en", hi)[lo:] if w.isalpha() and w not in listed]
    return Mix(_vocabulary(), names, rare)


def _typo(word: str, rng: random.Random) -> str:
    """One letter edit of a word of four letters or more (dropped, doubled, swapped, replaced, inserted)."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    edit = rng.randrange(5)
    if edit == 0:
        return word[:i] + word[i + 1 :]
    if edit == 1:
        return word[:i] + word[i] + word[i:]
    if edit == 2:
        return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]
    row = next((r for r in KEYBOARD if word[i] in r), KEYBOARD[1])
    at = row.find(word[i])
    near = row[max(0, at - 1)] if at > 0 and rng.random() < 0.5 else row[min(len(row) - 1, at + 1)]
    return word[:i] + near + word[i + 1 :] if edit == 3 else word[:i] + near + word[i:]


def _number(rng: random.Random) -> str:
    kind = rng.randrange(7)
    if kind == 0:
        return str(rng.randint(1950, 2026))
    if kind == 1:
        return f"{rng.choice('$£€')}{rng.randint(1, 400)}" + (
            f".{rng.randint(0, 99):02d}" * rng.randint(0, 1)
        )
    if kind == 2:
        return f"{rng.randint(0, 6)}-{rng.randint(0, 6)}"
    if kind == 3:
        if rng.random() < 0.5:
            return f"{rng.randint(1, 12)}:{rng.choice((0, 15, 30, 45)):02d}"
        return f"{rng.randint(1, 12)}{rng.choice(('am', 'pm'))}"
    if kind == 4:
        return f"{rng.randint(1, 100)}%"
    if kind == 5:
        return (
            f"{rng.randint(1, 99)},{rng.randint(0, 999):03d}"
            if rng.random() < 0.4
            else str(rng.randint(2, 500))
        )
    return f"{rng.randint(200, 999)}-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"


def _word(mix: Mix, rng: random.Random) -> str:
    names, numbers, rare, typos = mix.shares
    x = rng.random()
    if x < names:
        name = rng.choice(mix.names)
        return f"{name} {rng.choice(mix.names)}" if rng.random() < 0.2 else name
    x -= names
    if x < numbers:
        return _number(rng)
    x -= numbers
    if x < rare:
        return rng.choice(mix.rare)
    x -= rare
    if x < typos:
        return _typo(rng.choice(mix.common), rng)
    return rng.choice(mix.common)


def disguised(rng: random.Random) -> str:
    """A listed term, plainly or in one of DISGUISES."""
    how = rng.choice(DISGUISES)
    term = rng.choice(OFFENSIVE)
    if how == "inflected":
        return rng.choice(INFLECTED)
    if how == "capitals":
        return term.upper() if rng.random() < 0.5 else term.capitalize()
    if how == "leet":
        spots = [i for i, c in enumerate(term) if c in LEET] or [0]
        out = list(term)
        for i in rng.sample(spots, min(len(spots), rng.randint(1, 2))):
            out[i] = rng.choice(LEET.get(out[i], out[i]))
        return "".join(out)
    if how == "mask":
        i = rng.randrange(1, len(term) - 1)
        k = min(rng.randint(1, 2), len(term) - 1 - i)
        return term[:i] + rng.choice("*#") * k + term[i + k :]
    if how == "separators":
        return rng.choice(". -_").join(term)
    if how == "repeats":
        i = rng.randrange(len(term))
        return term[:i] + term[i] * rng.randint(3, 6) + term[i + 1 :]
    if how == "vowelless":
        return term[0] + "".join(c for c in term[1:] if c not in "aeiou")
    if how == "glued":
        return rng.choice(GLUED)
    return term


def make_comment(kind: str, length: int, mix: Mix, rng: random.Random) -> str:
    """One comment of about `length` characters (whole words); kind: clean, flagged or benign."""
    parts: list[str] = []
    size = 0
    while size < length:
        sentence = [_word(mix, rng) for _ in range(rng.randint(5, 14))]
        sentence[0] = sentence[0][:1].upper() + sentence[0][1:]
        text = " ".join(sentence) + rng.choice([".", ".", ".", "!", "?", ","])
        parts.append(text)
        size += len(text) + 1
    comment = " ".join(parts)
    insert = {"flagged": lambda: disguised(rng), "benign": lambda: rng.choice(BENIGN)}.get(kind)
    if insert:
        # Between two words, well inside the comment so the cut below keeps it.
        pos = comment.find(" ", rng.randrange(length - 40))
        comment = comment[:pos] + " " + insert() + comment[pos:]
    # End at the last space before `length` characters: a real comment does not end in half a word.
    return comment[: comment.rfind(" ", 0, length + 1)]


def make_labelled(n: int, length: int, mix: Mix, rng: random.Random) -> list[tuple[str, str]]:
    """`n` comments, each with its kind: FLAGGED_SHARE flagged, BENIGN_SHARE benign, the rest clean."""
    flagged, benign = round(n * FLAGGED_SHARE), round(n * BENIGN_SHARE)
    kinds = ["flagged"] * flagged + ["benign"] * benign + ["clean"] * (n - flagged - benign)
    rng.shuffle(kinds)
    return [(k, make_comment(k, length, mix, rng)) for k in kinds]


def make_batch(n: int, length: int, mix: Mix, rng: random.Random) -> list[str]:
    return [text for _kind, text in make_labelled(n, length, mix, rng)]


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


def plain_text(length: int, terms: list[str], mix: Mix, rng: random.Random) -> str:
    """Ordinary comment text of about `length` characters (common words), with `terms` written plainly among
    it (the text is longer where they need it)."""
    plain = mix.common_only()
    if not terms:
        return make_comment("clean", length, plain, rng)
    words = list(terms)
    size = sum(len(t) + 1 for t in terms)
    while size < length:
        words.append(rng.choice(plain.common).lower())
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


def hostile_table(wl: WordList, mix: Mix) -> bool:
    """Print each hostile input's time at each length next to plain text's; whether all meet the target."""
    inputs = [
        ("plain text", lambda n: plain_text(n, [], mix, random.Random(n))),
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
            plain = plain_text(length, terms, mix, random.Random(length))
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


def profile(wl: WordList, batches: list[list[str]], passes: int = 20) -> None:
    """cProfile over `wl.find` on the batches (caches emptied before each pass, as timed): the functions
    taking the most time, and how many calls go on past each stage of `find` (the counts of the methods
    that begin a stage; a method renamed since shows as 0)."""
    texts = [t for b in batches for t in b]
    prof = cProfile.Profile()
    for _ in range(passes):
        wl.clear_token_cache()
        prof.enable()
        for t in texts:
            wl.find(t)
        prof.disable()
    stats = pstats.Stats(prof)
    calls = {}
    for (_file, _line, name), (_cc, nc, *_rest) in stats.stats.items():  # type: ignore[attr-defined]
        calls[name] = calls.get(name, 0) + nc
    n = calls.get("find", 0)
    print(f"cProfile: WordList.find on {len(texts)} comments x {passes} passes ({n} calls)")
    for stage, name in [
        ("past the set question: a token outside clean_or_half", "_unknown_tokens"),
        ("tokens never seen in this pass, looked up (per call)", "token_roles"),
        ("with a disguise symbol ($ @ | + € §)", "_disguised_prefixes"),
        ("a dirty token searched (not known from the index or cache)", "token_hits"),
        ("reached _finish: a candidate", "_finish"),
    ]:
        count = calls.get(name, 0)
        share = f"{count / max(n, 1):6.2f}" if name == "token_roles" else f"{count / max(n, 1):6.1%}"
        print(f"  {count:7d} calls of {name:20s} {share}  {stage}")
    stats.sort_stats("tottime").print_stats(18)


def _engine_of(checkout: pathlib.Path) -> tuple[Callable[[str], list[WordMatch]], Callable[[], None]]:
    """The engine (find, then the language step) of another checkout's `service` package, and what empties
    its token caches, imported in this process beside this checkout's: its modules are imported afresh from
    `checkout`, and this checkout's are put back afterwards (each module keeps its own globals, so both
    engines work side by side)."""
    ours = {k: m for k, m in sys.modules.items() if k == "service" or k.startswith("service.")}
    for k in ours:
        del sys.modules[k]
    sys.path.insert(0, str(checkout))
    try:
        from service.wordlist.language import Languages as TheirLanguages
        from service.wordlist.matcher import WordList as TheirWordList

        if not str(sys.modules["service"].__file__).startswith(str(checkout)):
            raise SystemExit(f"{checkout} has no service package of its own")
        wl = TheirWordList.load(checkout / "rules")
        languages = TheirLanguages()
        languages.warm()
    finally:
        sys.path.remove(str(checkout))
        for k in [k for k in sys.modules if k == "service" or k.startswith("service.")]:
            del sys.modules[k]
        sys.modules.update(ours)

    def engine(text: str) -> list[WordMatch]:
        return list(languages.judge(text, None, wl.find(text))[0])

    return engine, wl.clear_token_cache


def compare(other: pathlib.Path, batches: list[list[str]], rounds: int = 21, passes: int = 10) -> None:
    """This checkout's engine against `other`'s on the same comments, in rounds that alternate which goes
    first; each round is `passes` passes over all the batches, the token caches emptied before each pass (as
    the main benchmark does). Prints the median time per comment of each, the median of the per-round
    ratios, and the ratio of the best rounds (the least disturbed), with how many comments get different
    matches (a speed change should change none)."""
    texts = [t for b in batches for t in b]
    wl = WordList.load(RULES)
    languages = Languages()
    languages.warm()
    theirs, forget_theirs = _engine_of(other.resolve())

    def key(ms: list[WordMatch]) -> list[tuple[int, int, str]]:
        return [(m.start, m.end, m.term) for m in ms]

    differ = sum(key(languages.judge(t, None, wl.find(t))[0]) != key(theirs(t)) for t in texts)
    sides: dict[str, tuple[Callable[[str], object], Callable[[], None]]] = {
        "this": (lambda t: languages.judge(t, None, wl.find(t)), wl.clear_token_cache),
        "other": (theirs, forget_theirs),
    }
    times: dict[str, list[float]] = {"this": [], "other": []}
    for r in range(rounds):
        for name in ("this", "other") if r % 2 == 0 else ("other", "this"):
            fn, forget = sides[name]
            times[name].append(timed(fn, texts, passes, forget)[0])
    this, other_ = statistics.median(times["this"]), statistics.median(times["other"])
    ratios = [o / t for o, t in zip(times["other"], times["this"], strict=True)]
    print(
        f"{len(texts)} comments of the mix, {rounds} alternating rounds of {passes} passes, CPU time per comment"
    )
    print(f"  this checkout: median {this:.1f} us, best round {min(times['this']):.1f} us")
    print(f"  {other}: median {other_:.1f} us, best round {min(times['other']):.1f} us")
    print(
        f"  other / this: {statistics.median(ratios):.3f} (median of the rounds' ratios; range "
        f"{min(ratios):.2f} - {max(ratios):.2f}); best rounds {min(times['other']) / min(times['this']):.3f}"
    )
    print(f"  comments whose matches differ: {differ}")


def _prefilter(wl: WordList) -> str:
    if wl._scan is not None:
        return "C (service/wordlist/_scan.c)"
    return "Python (the C extension was not built: see the README)"


def main() -> int:
    started = time.perf_counter()
    rng = random.Random(SEED)
    mix = load_mix()
    t0 = time.perf_counter()
    wl = WordList.load(RULES)
    load_s = time.perf_counter() - t0

    from better_profanity import profanity

    profanity.load_censor_words()
    batches = [make_batch(BATCH, 300, mix, rng) for _ in range(ROUNDS)]
    labelled = make_labelled(STREAM_COMMENTS, 300, mix, rng)
    stream = [text for _kind, text in labelled]
    long = make_batch(LONG_COMMENTS, 10_000, mix, rng)
    middle = {n: make_batch(LONG_COMMENTS * 10_000 // n, n, mix, rng) for n in MIDDLE_LENGTHS}
    if "--compare" in sys.argv[1:]:
        args = sys.argv[1:]
        at = args.index("--compare")
        if at + 1 >= len(args):
            raise SystemExit("--compare needs the path of another checkout")
        compare(pathlib.Path(args[at + 1]), batches)
        return 0
    if "--profile" in sys.argv[1:]:
        profile(wl, batches)
        return 0
    forget = wl.clear_token_cache
    languages = Languages()
    # Loaded before the clock starts, as the service does at startup (runtime.py): without it the first
    # comment needing the detector, whichever round it fell in, paid for loading it (~0.7 s: that round's
    # engine time was 7x the others').
    languages.warm()

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
    middle_runs: dict[int, list[float]] = {n: [] for n in MIDDLE_LENGTHS}
    for _ in range(STREAM_RUNS):  # alternated, so the per-character comparison sees the same load
        stream_runs.append(timed(engine, stream, 1, forget))
        for n, texts in middle.items():
            middle_runs[n].append(timed(engine, texts, 1, forget)[0])
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
    by_kind: dict[str, list[int]] = {}
    for kind, text in labelled:
        by_kind.setdefault(kind, []).append(bool(wl.find(text)))
    per_round = sum(1 for b in batches for t in b if wl.find(t)) / ROUNDS

    print(f"word list {wl.version}: loaded in {load_s:.2f} s; prefilter in {_prefilter(wl)}")
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
    # A longer comment is likelier to hold a non-ASCII character (a price in £ or €), and one is enough for
    # the whole comment to be folded by str.translate rather than bytes.translate: the share is printed.
    per_char = [(300, stream_cpu, stream)]
    per_char += [(n, statistics.median(middle_runs[n]), middle[n]) for n in MIDDLE_LENGTHS]
    per_char.append((10_000, long_cpu, long))
    print(
        "per character, by length (median CPU; share of comments not all ASCII): "
        + ", ".join(
            f"{n:,}: {cpu / n * 1000:.0f} ns ({sum(not t.isascii() for t in texts) / len(texts):.0%})"
            for n, cpu, texts in per_char
        )
    )
    print(
        "the mix: comments the engine flags, by kind: "
        + ", ".join(f"{kind} {sum(v)}/{len(v)}" for kind, v in sorted(by_kind.items()))
        + f" (stream of {STREAM_COMMENTS}; seed {SEED})"
    )
    hostile_ok = hostile_table(wl, mix)
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
