"""Other languages are not English profanity (issue 11, item 6): which language a comment is in, and what
that leaves of the word list's matches.

The word list is English. Its sub-word search (a listed term inside a longer token, leet folded across
letters, squeezed repeats, spaced letters) finds "reich" in German "erfolgreich" and "slut" in Swedish
"sluta". So the matches of a comment count in full only in English. In another language a match counts only
when the listed term is written out as a whole word ("Du bist ein fucking Idiot" still says "fucking"), and
not even then when the word is a more common word of that language than of English: Swedish "slut" (end),
Norwegian "fag" (subject). That last test is wordfreq's (already a dependency): the word's Zipf frequency
in the language is at least `common_zipf` and at least its frequency in English. Loanwords stay matches:
"fuck" is more frequent in English text than in Danish text.

Which language: the request's `lang` (its primary subtag) when given. Otherwise py3langid (a maintained,
offline naive-Bayes detector on byte n-grams: one numpy model in the package, no download, no native
code) restricted to `candidates`, on at most `max_chars` characters of the text. A text with fewer than
`min_letters` letters, or whose best language scores under `min_confidence`, is taken as English: the
direction that keeps matches, the safe one for a moderation service.

Cost: detection runs only when it can change something: the word list matched, no `lang` was given (most
comments match nothing), and some match is not a written-out word that counts in every candidate language.
Even then, a text whose words are plainly English (a quarter of them frequent English words far rarer in the
other candidates) is English at sight, with set lookups; the detector (~40-100 us) runs for the rest. All in
the matching thread, on at most `max_chars` characters, so a comment's work stays linear in its length.
The detector (~90 MB, ~1 s to load) loads on first use or at
startup (`warm`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import wordfreq
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from service.config import DEFAULT_LANGUAGE_CANDIDATES, Settings
from service.moderation.types import Language, WordMatch

log = logging.getLogger(__name__)

ENGLISH = "en"


#: English text reads as English at sight (no detector) with at least this many English words...
ENGLISH_MARKERS_MIN = 3
#: ... making at least this share of its words ...
ENGLISH_MARKERS_SHARE = 1 / 4
#: ... taken from English's most frequent words ...
ENGLISH_MARKER_POOL = 10_000
#: ... that are this much (Zipf: powers of ten) more frequent in English than in any other candidate language:
#: "should", "people", "knowledge", "the", "and" are in; "was", "in", "so", "die", "problem", "chocolate"
#: and loanwords such as "fucking" are out. (At 1.5, 31 of 43 flagged comments of the word-list benchmark's
#: mix, which need a language, read as English at sight; at 1.0, 38: the detector runs for 5 instead of 12.
#: Word salad drawn from the 5,000 most frequent words of each other candidate reads as English at neither.)
MARKER_ZIPF_MARGIN = 1.0

_WORD = re.compile(r"[^\W\d_]+")
# The same runs in ASCII text, where a letter is [A-Za-z]: the Unicode class above costs twice as much a character.
_ASCII_WORD = re.compile(r"[A-Za-z]+")

#: Where wordfreq names a language otherwise than the detector does.
_WORDFREQ_CODE = {"no": "nb", "nn": "nb", "tl": "fil"}

#: How many (term, language) answers of the common-word test are remembered: the word list's terms times
#: a few languages in practice; past the cap, answers are computed again (a dictionary lookup in wordfreq).
_COMMON_CACHE_MAX = 50_000


@dataclass(frozen=True)
class LanguageOptions:
    """The settings of language handling (MODERATION_LANG_* in service/config.py)."""

    detect: bool = True
    """Detect the language when no lang is given; off: such comments are English."""
    max_chars: int = 120
    min_letters: int = 10
    min_confidence: float = 0.6
    candidates: tuple[str, ...] = DEFAULT_LANGUAGE_CANDIDATES
    common_zipf: float = 3.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LanguageOptions:
        return cls(
            detect=settings.LANG_DETECT,
            max_chars=settings.LANG_DETECT_MAX_CHARS,
            min_letters=settings.LANG_DETECT_MIN_LETTERS,
            min_confidence=settings.LANG_DETECT_MIN_CONFIDENCE,
            candidates=tuple(settings.LANG_DETECT_LANGUAGES),
            common_zipf=settings.LANG_COMMON_ZIPF,
        )


class Languages:
    """Decides the language a comment's matches are judged in, and keeps the matches that language allows.
    Thread-safe: matching threads share one."""

    def __init__(self, options: LanguageOptions | None = None) -> None:
        self.options = options or LanguageOptions()
        self._common: dict[tuple[str, str], bool] = {}
        # Per term: whether it is a common word of some candidate language (`_stands_anywhere` asks this of
        # most flagged comments; one lookup instead of one per language). Capped like `_common`.
        self._common_somewhere: dict[str, bool] = {}
        self._markers: frozenset[str] | None = None

    # ------------------------------------------------------------------------------------------ detection
    def warm(self) -> None:
        """Load the detector now (startup, off the event loop) instead of on the first comment needing it;
        a detector that cannot load is logged here, and its comments are taken as English."""
        if self.options.detect:
            try:
                _detector(self.options.candidates)
                self._english_markers()
            except Exception:
                log.exception("the language detector did not load; comments without lang count as English")

    def detect(self, text: str) -> Language:
        """The language of `text` as detected, or English ('default') when the text is short or unsure."""
        sample = text[: self.options.max_chars]
        if not self.options.detect:
            return Language(code=ENGLISH, source="default")
        # The sample's words (runs of letters): their letters are its letters.
        words = (_ASCII_WORD if sample.isascii() else _WORD).findall(sample)
        if sum(map(len, words)) < self.options.min_letters:
            return Language(code=ENGLISH, source="default")
        if self._english_at_sight(words):
            return Language(code=ENGLISH, source="detected")
        try:
            code, confidence = _detector(self.options.candidates).classify(sample)
        except Exception:  # a detector that fails costs the comment its language, never its verdict
            log.exception("language detection failed; the comment counts as English")
            return Language(code=ENGLISH, source="default")
        if confidence < self.options.min_confidence:
            return Language(code=ENGLISH, source="default")
        return Language(code=str(code), source="detected")

    def _english_at_sight(self, words: list[str]) -> bool:
        """Whether a sample with these `words` (runs of letters) plainly reads as English without the
        detector: at least ENGLISH_MARKERS_MIN of the words, and ENGLISH_MARKERS_SHARE of them, are frequent
        English words that are far rarer in every other candidate language ("should", "people", "knowledge";
        not "was", "in", "so" nor loanwords such as "fucking"). A set question per word, several times
        cheaper than the detector, which most flagged comments (English ones) then skip."""
        # Only words in lower case count, on both sides: capitalised ones are mostly names ("Cheney",
        # "Scunthorpe"), which say nothing of the language (a sentence's first word is one word less on each
        # side), and the markers are lower case. Counted by C-level calls: this runs for most flagged comments.
        lower = [w for w in words if w.islower()]
        markers = sum(map(self._english_markers().__contains__, lower))
        return markers >= ENGLISH_MARKERS_MIN and markers >= ENGLISH_MARKERS_SHARE * len(lower)

    def _english_markers(self) -> frozenset[str]:
        if self._markers is None:
            self._markers = frozenset(
                w
                for w in wordfreq.top_n_list(ENGLISH, ENGLISH_MARKER_POOL, wordlist="small")
                if w.isalpha()
                and not any(
                    wordfreq.zipf_frequency(w, _WORDFREQ_CODE.get(c, c), wordlist="small")
                    > wordfreq.zipf_frequency(w, ENGLISH, wordlist="small") - MARKER_ZIPF_MARGIN
                    for c in self.options.candidates
                    if c != ENGLISH and _WORDFREQ_CODE.get(c, c) in _wordfreq_languages()
                )
            )
        return self._markers

    # ------------------------------------------------------------------------------------------- matches
    def judge(
        self, text: str, lang: str | None, matches: Sequence[WordMatch]
    ) -> tuple[list[WordMatch], Language | None]:
        """The matches that count in the comment's language, and that language. `lang` is the request's
        primary language subtag (already validated), None when not given: then no language is detected for
        a comment that matched nothing (it would change nothing), and the language is None."""
        if lang is not None:
            language = Language(code=lang, source="given")
        elif not matches:
            return [], None
        elif not self.options.detect:
            return list(matches), Language(code=ENGLISH, source="default")
        elif all(self._stands_anywhere(text, m) for m in matches):
            # Every match would count in any candidate language, so detection could change nothing (most
            # flagged comments write the word out, and detection costs as much as the matching).
            return list(matches), Language(code=ENGLISH, source="default")
        else:
            language = self.detect(text)
        if language.code == ENGLISH or not matches:
            return list(matches), language
        return [m for m in matches if self._counts_in(text, m, language.code)], language

    def _counts_in(self, text: str, match: WordMatch, code: str) -> bool:
        """Whether a match stands in a text of language `code` (not English): the term written out as a whole
        word, and not a common word of that language."""
        return _written_out(text, match) and not self._common_word(match.term.casefold(), code)

    def _stands_anywhere(self, text: str, match: WordMatch) -> bool:
        """Whether a match counts whatever the text's language among the candidates: written out, and a
        common word of none of them."""
        if not _written_out(text, match):
            return False
        word = match.term.casefold()
        somewhere = self._common_somewhere.get(word)
        if somewhere is None:
            somewhere = any(self._common_word(word, c) for c in self.options.candidates if c != ENGLISH)
            if len(self._common_somewhere) < _COMMON_CACHE_MAX:
                self._common_somewhere[word] = somewhere
        return not somewhere

    def _common_word(self, word: str, code: str) -> bool:
        """Whether `word` is a common word of language `code`: at least `common_zipf` there, and at least as
        frequent there as in English (so loanwords such as "fuck" in Danish stay English profanity)."""
        key = (word, code)
        known = self._common.get(key)
        if known is not None:
            return known
        wf_code = _WORDFREQ_CODE.get(code, code)
        answer = False
        if wf_code in _wordfreq_languages():
            there = wordfreq.zipf_frequency(word, wf_code, wordlist="small")
            answer = there >= self.options.common_zipf and there >= wordfreq.zipf_frequency(
                word, ENGLISH, wordlist="small"
            )
        if len(self._common) < _COMMON_CACHE_MAX:
            self._common[key] = answer
        return answer


def _written_out(text: str, match: WordMatch) -> bool:
    """Whether a match is its term written out as a whole word (any case): not part of a longer word, not
    disguised or inflected."""
    before = text[match.start - 1] if match.start > 0 else " "
    after = text[match.end] if match.end < len(text) else " "
    if before.isalnum() or after.isalnum():
        return False  # inside a longer word: "erfolg|reich", "slut|a"
    # Disguised or inflected: English spelling tricks, not another language's.
    return match.text.casefold() == match.term.casefold()


_LOADING = threading.Lock()


@lru_cache(maxsize=4)
def _detector_cached(candidates: tuple[str, ...]) -> Any:
    detector = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    unknown = [c for c in candidates if c not in set(detector.labels)]
    if unknown:
        raise ValueError(f"the language detector does not know {', '.join(unknown)}")
    detector.set_languages(list(candidates))
    return detector


def _detector(candidates: tuple[str, ...]) -> Any:
    """The detector restricted to `candidates`, loaded once per process and shared by every pipeline (its
    model is ~90 MB). py3langid's classify reads the model only, so threads may share one."""
    with _LOADING:
        return _detector_cached(candidates)


_WORDFREQ_LANGUAGES: frozenset[str] | None = None


def _wordfreq_languages() -> frozenset[str]:
    """The languages wordfreq has a 'small' list for (read once)."""
    global _WORDFREQ_LANGUAGES
    if _WORDFREQ_LANGUAGES is None:
        _WORDFREQ_LANGUAGES = frozenset(wordfreq.available_languages(wordlist="small"))
    return _WORDFREQ_LANGUAGES
