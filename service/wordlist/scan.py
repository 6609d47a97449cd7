"""The prefilter's first question, asked in C where the extension `_scan` was built (setup.py).

For an ASCII match view, `Scanner.scan` answers what these lines do, in one pass and one probe per token:
which tokens the vocabulary does not hold (`unknown`), which it holds as "half" (clean_or_half but not clean:
needed only when some token is unknown), and whether three single letters stand in a row (the SPACED
regex's question). `None` for any other view (non-ASCII: another script's letters), and always where the
extension is missing (no C compiler at install time): the matcher then asks Python's set operations, which
give the same answers, slower (tests/wordlist/test_scan.py holds the two equal).

    tokens = set(view.split())
    unknown = tokens - clean_or_half
    half = (tokens & clean_or_half) - clean
    spaced = SPACED_UNSQUEEZED_RE.search(" " + view) is not None

Why C: the Python lines make a str object per token, hash it and probe two frozensets of 430,000 words
(16 MB tables each) once or twice per token; in the benchmark's mix that was about a fifth of a comment's
time. The C table holds the same words in about 12 MB (8-byte slots, at most half full, and the words' bytes),
is keyed with a random seed per process, and compares a token's bytes before it counts as a word.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import wordfreq

from service.wordlist import normalize as nz

try:
    from service.wordlist._scan import Table
except ImportError:  # built without a C compiler: the pure-Python prefilter
    Table = None  # type: ignore[assignment,misc]

HOT_WORDS = 8_000
"""wordfreq's most frequent English words, kept in a second table small enough to stay in the CPU's caches
(about 200 KB), which every token is asked of first."""

AVAILABLE = Table is not None
"""Whether the C prefilter was built (`moderation wordlist` and the benchmark say which one runs)."""

Scanned = tuple[set[str] | None, set[str] | None, bool]
"""(unknown tokens or None, half tokens or None, three single letters in a row)."""


class Scanner:
    """The vocabulary's ASCII words in the C table; `scan(view)` as the module's docstring says."""

    __slots__ = ("_table", "scan")

    def __init__(self, clean: Iterable[str], half: Iterable[str], hot: Iterable[str] = ()) -> None:
        if Table is None:
            raise RuntimeError("the C prefilter (service.wordlist._scan) was not built")
        self._table = Table(clean, half, int.from_bytes(os.urandom(8), "little"), hot)
        # The table's own method (no Python call in between): (unknown, half, spaced), or None.
        self.scan: Callable[[str], Scanned | None] = self._table.scan

    @property
    def size(self) -> int:
        """The words held (the vocabulary's ASCII words)."""
        return self._table.size()

    @property
    def nbytes(self) -> int:
        return self._table.nbytes()


def scanner_for(clean: frozenset[str], clean_or_half: frozenset[str], enabled: bool = True) -> Scanner | None:
    """A Scanner of the vocabulary, or None where the extension is missing or `enabled` is false."""
    if not (enabled and AVAILABLE):
        return None
    hot = {nz.fold_match(w) for w in wordfreq.top_n_list("en", HOT_WORDS)}
    return Scanner(clean, clean_or_half - clean, hot)
