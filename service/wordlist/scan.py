"""The prefilter's first question, asked in C where the extension `_scan` was built (setup.py).

For a match view, `Scanner.scan` answers what these lines do, in one pass and one probe per token: which
tokens the vocabulary does not hold and may take a part (`unknown`: a token that surely takes none, as most
misspellings and unknown names, is left out; `may_play` in _scan.c says how it knows), which it holds as
"half" (clean_or_half but not clean: needed only when some token is unknown), and the two SPACED regexes'
questions (three single letters in a row; three tokens each of one letter repeated). `None` for a view
holding whitespace other than ' ' (the match view folds it all to ' '), and always where the extension is
missing (no C compiler at install time): the matcher then asks Python's set operations and `token_roles`,
which give the same matches, slower (tests/wordlist/test_scan.py holds the two equal).

    tokens = set(view.split())
    unknown = {t for t in tokens - clean_or_half if token_roles(t) != NO_ROLES}
    half = (tokens & clean_or_half) - clean
    runs = (SPACED_UNSQUEEZED_RE.search(" " + view) is not None) | 2 * (
        SPACED_REPEATED_RE.search(" " + view) is not None
    )

(`unknown` may also hold tokens whose roles turn out to be none: the C test is sound, not exact.)

Why C: the Python lines make a str object per token, hash it and probe two frozensets of 430,000 words
(16 MB tables each) once or twice per token, and look at every token never seen before in Python (about
3 µs each); in the benchmark's mix that was about half of a comment's time. The C tables (about 17 MB: the
vocabulary's ASCII words, wordfreq's 8,000 most frequent words again in a table small enough to stay in the
CPU's caches, and the shapes `may_play` asks about) are keyed with a random seed per process, and a token's
bytes are compared before it counts as a word.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import wordfreq

from service.wordlist import normalize as nz
from service.wordlist.index import TermForms, Vocabulary

try:
    from service.wordlist._scan import Table
except ImportError:  # built without a C compiler: the pure-Python prefilter
    Table = None  # type: ignore[assignment,misc]

HOT_WORDS = 8_000
"""wordfreq's most frequent English words, kept in a second table small enough to stay in the CPU's caches
(about 200 KB), which every token is asked of first."""

GRAM = 4
"""The length of the long spellings' beginnings the C table holds (_scan.c's GRAM)."""

AVAILABLE = Table is not None
"""Whether the C prefilter was built (the word-list benchmark's first line says which one runs)."""

Scanned = tuple[set[str] | None, set[str] | None, int]
"""(unknown tokens that may take a part, or None; half tokens or None; bit 1: three single letters in a row,
bit 2: three tokens in a row each of one letter repeated)."""


class Scanner:
    """The vocabulary's ASCII words in the C table; `scan(view)` as the module's docstring says. With `forms`,
    the unknown tokens that can take no part (`may_play` false) are left out of `unknown`."""

    __slots__ = ("_table", "may_play", "scan")

    def __init__(
        self,
        clean: Iterable[str],
        half: Iterable[str],
        hot: Iterable[str] = (),
        forms: TermForms | None = None,
    ) -> None:
        if Table is None:
            raise RuntimeError("the C prefilter (service.wordlist._scan) was not built")
        seed = int.from_bytes(os.urandom(8), "little")
        if forms is None:
            self._table = Table(clean, half, seed, hot)
        else:
            phrases = forms.phrases
            long_spellings = list(forms.terms_automaton.keys()) if forms.has_long else []
            self._table = Table(
                clean,
                half,
                seed,
                hot,
                exact=forms.short_q_set | forms.short_s_set | set(phrases.middle_of),
                # (A spelling shorter than a gram would go unseen: the table then filters nothing.)
                grams={k[:GRAM] if len(k) >= GRAM else "" for k in long_spellings},
                firsts=phrases.first,
                lasts=phrases.last,
                placeholder=nz.AMBIGUOUS,
                mask=nz.MASK,
            )
        self.may_play: Callable[[str], bool] = self._table.may_play
        # The table's own method (no Python call in between): (unknown, half, runs), or None.
        self.scan: Callable[[str], Scanned | None] = self._table.scan

    @property
    def filtering(self) -> bool:
        """Whether unknown tokens that can take no part are left out (the forms allowed it)."""
        return self._table.filtering()

    @property
    def size(self) -> int:
        """The words held (the vocabulary's ASCII words)."""
        return self._table.size()

    @property
    def nbytes(self) -> int:
        return self._table.nbytes()


def scanner_for(vocabulary: Vocabulary, forms: TermForms, enabled: bool = True) -> Scanner | None:
    """A Scanner of the index, or None where the extension is missing or `enabled` is false."""
    if not (enabled and AVAILABLE):
        return None
    hot = {nz.fold_match(w) for w in wordfreq.top_n_list("en", HOT_WORDS)}
    clean = vocabulary.clean
    return Scanner(clean, vocabulary.clean_or_half - clean, hot, forms)
