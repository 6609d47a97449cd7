"""Text written to hurt the word-list engine (issue 10): the inputs its tests and the benchmark
(tests/benchmarks/bench_wordlist.py) share."""

from __future__ import annotations

from collections.abc import Callable


# The inputs of issue 10's first "Why", and the others found while fixing them: each a text of about n
# characters.
def _word_with(symbol: str) -> Callable[[int], str]:
    return lambda n: "x" * (n // 2) + symbol + "y" * (n - n // 2 - 1)


HOSTILE_OF_LENGTH: dict[str, Callable[[int], str]] = {
    # Cubic: each symbol re-folded the whole word and squeezed every prefix of it.
    "@a repeated": lambda n: "@a" * (n // 2),
    "a$ repeated": lambda n: "a$" * (n // 2),
    "x| repeated": lambda n: "x|" * (n // 2),
    "b+ repeated": lambda n: "b+" * (n // 2),
    # Quadratic: every prefix of the word squeezed.
    "$ in a word": _word_with("$"),
    "@ in a word": _word_with("@"),
    # Quadratic in matches: each compared with every match kept.
    "PUSS! repeated": lambda n: "PUSS! " * (n // 6),
    # Found while fixing those: a run of placeholders was retried from each of its '!' (quadratic: 5 s at
    # 40,000 characters, 78 s at 160,000). Quadratic in principle, though small at these lengths: each
    # overlap choice read the rest of its word, each occurrence of a token inside a longer one was checked.
    "! run before a word": lambda n: "!" * (n - 5) + "xfuck",
    "fuckers as one word": lambda n: "fuckers" * (n // 7),
    "a word inside a longer one": lambda n: "fuck" * (n // 10) + " " + "fuck" * (n * 3 // 20),
    # The other shapes the issue names.
    "a repeated": lambda n: "a" * n,
    "f.u.c.k. repeated": lambda n: "f.u.c.k." * (n // 8),
    "s h i t repeated": lambda n: "s h i t " * (n // 8),
    "zero width between letters": lambda n: "\u200b".join("fuck you " * (n // 18)),
    "mixed scripts": lambda n: ("fυсk Ｆ𝐮сk ѕhіt " * (n // 16 + 1))[:n],
    "phrases": lambda n: "mother fucker blow job " * (n // 23),
    "masked words": lambda n: "f*ck c**t 7*7 " * (n // 14),
}
HOSTILE = {name: make(10_000) for name, make in HOSTILE_OF_LENGTH.items()}
"""At 10,000 characters: "@a" * 5000 took hours before the fix, a symbol in a word seconds."""


# Adversarial generators: a text is `head * n + middle + tail * n`, the pieces drawn from disguise symbols,
# separators, repeats, masks, exclamations, look-alikes of other scripts and invisible characters.
PIECES = [
    *"$@|+€§",  # leet symbols that mark a disguise inside a word
    *" .-_,'",  # separators
    *"!1I|*#",  # placeholders and masks
    *"fuckshitaso0357",  # letters of terms, and leet digits
    "|<", "()", "(", "ph",  # leet written with two characters
    "υ", "с", "а", "е", "о", "р", "ѕ", "і", "Ｆ", "𝐮", "ﬅ", "ﬁ",  # other scripts, full width, ligatures
    "\u200b", "\u200d", "\u00ad", "\u202e",  # invisible
    "fuck", "shit", "ass", "PUSS!", "Anna!", "mother ", "fucker", "blow ", "job ", "a n a !", "cocktail",
]  # fmt: skip
