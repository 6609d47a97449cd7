"""Whether a listed term found inside a longer word is a true part of it (issue 11, precision).

"shitstorm" is "shit" + "storm": the term is a part of the word's meaning, and the word is a derivative.
"saltwater" holds "twat" only across its parts ("sal|twat|er"), "mishit" holds "shit" across "mis|hit", and
"Shitterton" is a place. A word is split into parts the way a reader splits a compound: the fewest parts, each
a word of the spelling lexicon (lexicon.py) of at least `min_part` letters, and among equally short splits the
one whose weakest part is the most common word. The term is a true part when that split has it (with an
inflection: "bull|shits") as one of its parts, and the word has at least one part besides it; a word that is
the term with an inflection ("assholes") is the term itself, which the callers decide before asking.

Work: one dynamic programme over the word, `max_part` dictionary lookups per letter, so linear in the word's
length; callers pass words that are bounded (dictionary words at build time, tokens up to a fixed length at
match time).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

from service.wordlist import lexicon

MIN_PART = 3
"""The shortest part of a compound in running text ("bad|ass", "dip|shit")."""
MIN_NAME_PART = 4
"""The shortest part of a compound written as a name (capitalised): "Shitter|ton" is not "shitter" + "ton"."""
MIN_PART_ZIPF = 2.5
"""A part must be at least this common (wordfreq's Zipf scale): rare dictionary entries ("sal") don't split."""
TERM_ZIPF = math.inf
"""How common the term's own part counts as: never the weakest part, so a split through the term ("bull|shits")
beats one across it ("bulls|hits") unless the other split's parts are all more common than the term's
neighbours ("salt|water" beats "sal|twater")."""

SUFFIXES = (
    *("s", "es", "ed", "d", "ing", "in", "er", "ers", "y", "ies", "ier", "iest"),
    *("ish", "ness", "ly", "a", "ah", "uh"),
)
"""Endings that keep a word a form of the term before it ("bull|shits", "cunt|ish", "wank|ah")."""

_INFLECTED = frozenset(("", *SUFFIXES))


def is_inflected(word: str, start: int, end: int) -> bool:
    """Whether `word` is the term at word[start:end] itself, perhaps with an ending of SUFFIXES ("shits",
    "Assholes"): no compound, the term."""
    return start == 0 and word[end:] in _INFLECTED


Split = tuple[int, float, tuple[int, ...]]
"""A split of a word: its number of parts, the Zipf frequency of its weakest part, and where parts end."""


def compound_parts() -> dict[str, float]:
    """The words that may be parts of a compound, with their Zipf frequency: the spelling lexicon's words of
    at least MIN_PART letters that are at least MIN_PART_ZIPF common."""
    zipf = lexicon.zipf_table()
    out: dict[str, float] = {}
    for w in lexicon.spelling_words():
        if len(w) >= MIN_PART:
            z = zipf.get(w, 0.0)
            if z >= MIN_PART_ZIPF:
                out[w] = z
    return out


def is_true_part(
    word: str,
    start: int,
    end: int,
    parts: Parts,
    inflections: tuple[str, ...],
    min_part: int = MIN_PART,
) -> bool:
    """Whether the term at word[start:end] (lower case letters) is one of the parts `word` splits into, the
    term perhaps followed by an inflection ("bull|shits"), beside at least one other part."""
    n = len(word)
    if not 0 <= start < end <= n:
        return False
    term_ends = {end} | {end + len(x) for x in inflections if word.startswith(x, end)}
    if start == 0 and n in term_ends:
        return False  # the term with an inflection: no compound (the caller's question)
    longest = parts.longest
    # best[i]: the best split of word[:i] (fewest parts, then the most common weakest part).
    best: list[Split | None] = [None] * (n + 1)
    best[0] = (0, math.inf, ())
    for i in range(n):
        here = best[i]
        if here is None:
            continue
        count, weakest, ends = here
        candidates: list[tuple[int, float]] = []
        for j in range(i + min_part, min(n, i + longest) + 1):
            z = parts.get(word[i:j])
            if z is not None and (i, j) != (0, n):  # a compound has two parts at least
                candidates.append((j, z))
        if i == start:
            for j in term_ends:
                candidates.append((j, TERM_ZIPF))
        for j, z in candidates:
            cand: Split = (count + 1, min(weakest, z), (*ends, j))
            old = best[j]
            if old is None or (cand[0], -cand[1]) < (old[0], -old[1]):
                best[j] = cand
    final = best[n]
    if final is None:
        return False
    bounds = (0, *final[2])
    return any(bounds[k] == start and bounds[k + 1] in term_ends for k in range(len(bounds) - 1))


class Parts(dict[str, float]):
    """The words compounds split into, with their Zipf frequency (`compound_parts`), and the length of the
    longest (the programme's reach)."""

    longest: int

    def __init__(self, table: Mapping[str, float]) -> None:
        super().__init__(table)
        self.longest = max(map(len, table), default=0)


@functools.lru_cache(maxsize=1)
def parts_table() -> Parts:
    """`compound_parts` ready for `is_true_part` (built once per process: it depends on the lexicons only)."""
    return Parts(compound_parts())
