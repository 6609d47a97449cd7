"""The English lexicons the word list asks whether a token is a real word (issue 11).

Two well-kept sources, each answering a different question:

- **wordfreq** (all of its English list, about 320,000 words, not only a frequency cut): every word seen often
  enough in its corpora, including names ("Cheney", "Scunthorpe") and web spellings. It answers "has this
  token been written as a word?" and how common it is.
- **pyspellchecker's English dictionary** (about 160,000 words, MIT licence): word frequencies from
  OpenSubtitles, cleaned by its maintainers of misspellings and junk. It answers "is this a correctly spelt
  English word?": wordfreq also holds "fck", "fkn" and "sht" (they are written often), the spelling lexicon
  does not, so a consonant skeleton is matched only when the spelling lexicon does not know the token.

Both are read at word-list build time, never per comment: the spelling lexicon here (once per process), and
wordfreq's list by index.dictionary().
"""

from __future__ import annotations

import functools
import gzip
import json
import math
from importlib import resources

import wordfreq

SPELLING_PACKAGE = "spellchecker"
SPELLING_RESOURCE = "resources/en.json.gz"


@functools.lru_cache(maxsize=1)
def spelling_words() -> frozenset[str]:
    """pyspellchecker's English words (lower case, letters only)."""
    path = resources.files(SPELLING_PACKAGE).joinpath(SPELLING_RESOURCE)
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        table = json.load(fh)
    return frozenset(w for w in table if w.isalpha() and w.islower())


def zipf(word: str) -> float:
    """How common a word is in English (wordfreq's Zipf scale, 0 when unknown)."""
    return float(wordfreq.zipf_frequency(word, "en"))


def zipf_table() -> dict[str, float]:
    """`zipf` of every word wordfreq knows, in one table (Zipf = log10 of the frequency per billion words;
    wordfreq's own `zipf_frequency` also rounds to two decimals). Not kept here: callers keep what they need."""
    return {w: round(math.log10(f) + 9, 2) for w, f in wordfreq.get_frequency_dict("en").items() if f > 0}
