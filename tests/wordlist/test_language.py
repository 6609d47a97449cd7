"""service/wordlist/language.py: which matches count in a comment's language (issue 11, item 6), with the real
word lists, the real py3langid detector and wordfreq."""

from __future__ import annotations

import random
import re

import pytest
import wordfreq

from service.config import DEFAULT_LANGUAGE_CANDIDATES
from service.wordlist.language import LanguageOptions, Languages
from service.wordlist.matcher import WordList


@pytest.fixture(scope="module")
def languages() -> Languages:
    return Languages()


def _judged(wordlist: WordList, languages: Languages, text: str, lang: str | None = None):
    kept, language = languages.judge(text, lang, wordlist.find(text))
    return [m.text for m in kept], language


@pytest.mark.parametrize(
    ("text", "code", "found"),
    [
        ("Das war sehr erfolgreich", "de", "reich"),  # a term inside a longer German word
        ("Vi måste sluta nu", "sv", "slut"),  # ... inside a Swedish word
        ("Vi måste sluta nu, det är slut", "sv", "slut"),  # a whole Swedish word: "slut" is "end"
        ("Han hadde norsk som fag på skolen i fjor", "no", "fag"),  # Norwegian "fag" is "subject"
    ],
)
def test_words_of_other_languages_are_not_english_profanity(
    wordlist: WordList, languages: Languages, text: str, code: str, found: str
) -> None:
    assert found in [m.text for m in wordlist.find(text)]  # what the English engine alone reports
    kept, language = _judged(wordlist, languages, text)
    assert kept == []
    assert language is not None and (language.code, language.source) == (code, "detected")


@pytest.mark.parametrize(
    ("text", "expected", "code"),
    [
        ("Du bist ein fucking Idiot, das war sehr erfolgreich", ["fucking"], "de"),
        ("Du är en asshole och vi måste sluta nu", ["asshole"], "sv"),
    ],
)
def test_english_profanity_written_out_in_another_language_still_counts(
    wordlist: WordList, languages: Languages, text: str, expected: list[str], code: str
) -> None:
    assert len(wordlist.find(text)) > len(expected)  # a sub-word match too, so the language is detected
    kept, language = _judged(wordlist, languages, text)
    assert kept == expected
    assert language is not None and (language.code, language.source) == (code, "detected")


def test_no_detection_when_every_match_counts_in_any_language(wordlist: WordList) -> None:
    # A detector that could not even load is never asked: "fucking" and "asshole" written out count anywhere.
    languages = Languages(LanguageOptions(candidates=("en", "de", "xx")))
    kept, language = _judged(wordlist, languages, "Du bist ein fucking Idiot und ein asshole")
    assert kept == ["fucking", "asshole"]
    assert language is not None and (language.code, language.source) == ("en", "default")


def test_plainly_english_text_needs_no_detector(wordlist: WordList) -> None:
    languages = Languages(LanguageOptions(candidates=("en", "de", "xx")))
    text = "People should really think before they post this sh1t about other people"
    kept, language = _judged(wordlist, languages, text)
    assert kept == ["sh1t"]
    assert language is not None and (language.code, language.source) == ("en", "detected")


def _word_salad(code: str, samples: int, rng: random.Random) -> list[list[str]]:
    """The words of `samples` texts of about 120 characters (the detector's sample) drawn from the 5,000 most
    frequent words of a language, in lower case as most words of a comment are."""
    pool = [w for w in wordfreq.top_n_list(code, 5000) if w.isalpha()]
    out = []
    for _ in range(samples):
        text = " ".join(rng.choice(pool) for _ in range(40))[:120]
        out.append(re.findall(r"[^\W\d_]+", text))
    return out


def test_only_english_reads_as_english_at_sight(languages: Languages) -> None:
    # The markers (frequent English words ten times rarer in every other candidate) let plainly English text
    # skip the detector; text in any other candidate language must never pass for English that way, or its
    # sub-word matches ("erfolg|reich") would count.
    rng = random.Random(11)
    others = {"no": "nb"}
    for code in DEFAULT_LANGUAGE_CANDIDATES:
        if code == "en":
            continue
        for words in _word_salad(others.get(code, code), 40, rng):
            assert not languages._english_at_sight(words), (code, words)
    english = _word_salad("en", 40, rng)
    assert sum(map(languages._english_at_sight, english)) >= 36


def test_disguised_spellings_count_in_english_only(wordlist: WordList, languages: Languages) -> None:
    text = "Das ist so dumm, du shitbag"
    assert [m.text for m in wordlist.find(text)] == ["shit"]
    assert _judged(wordlist, languages, text)[0] == []
    assert _judged(wordlist, languages, text, "en")[0] == ["shit"]


@pytest.mark.parametrize("text", ["sh1t", "dumbass", "ok shit", "fuk u"])
def test_short_or_unsure_text_is_english(wordlist: WordList, languages: Languages, text: str) -> None:
    expected = [m.text for m in wordlist.find(text)]
    assert expected
    kept, language = _judged(wordlist, languages, text)
    assert kept == expected
    assert language is not None and (language.code, language.source) == ("en", "default")


def test_a_given_language_overrides_detection(wordlist: WordList, languages: Languages) -> None:
    kept, language = _judged(wordlist, languages, "Das war sehr erfolgreich", "en")
    assert kept == ["reich"] and language is not None and (language.code, language.source) == ("en", "given")
    kept, language = _judged(wordlist, languages, "slut", "sv")
    assert kept == [] and language is not None and (language.code, language.source) == ("sv", "given")


def test_no_language_is_detected_when_nothing_matched(wordlist: WordList) -> None:
    # A detector that could not even load is never asked: nothing matched, so the language changes nothing.
    languages = Languages(LanguageOptions(candidates=("en", "xx-unknown")))
    assert languages.judge("Das war ein schöner Tag", None, wordlist.find("Das war ein schöner Tag")) == (
        [],
        None,
    )


def test_a_detector_that_fails_leaves_the_text_english(
    wordlist: WordList, caplog: pytest.LogCaptureFixture
) -> None:
    languages = Languages(LanguageOptions(candidates=("en", "xx")))
    kept, language = _judged(wordlist, languages, "Das war sehr erfolgreich")
    assert kept == ["reich"]
    assert language is not None and (language.code, language.source) == ("en", "default")
    assert "language detection failed" in caplog.text


def test_detection_reads_a_bounded_prefix(wordlist: WordList) -> None:
    # German for the first max_chars characters, then English: the detector never reads the English.
    options = LanguageOptions(max_chars=60)
    text = (
        "Das war wirklich sehr erfolgreich und alle waren zufrieden. " + "You are all fucking idiots. " * 200
    )
    kept, language = Languages(options).judge(text, None, wordlist.find(text))
    assert language is not None and language.code == "de"
    assert kept and all(m.text == "fucking" for m in kept)


def test_without_detection_a_comment_without_lang_is_english(wordlist: WordList) -> None:
    languages = Languages(LanguageOptions(detect=False))
    kept, language = _judged(wordlist, languages, "Das war sehr erfolgreich")
    assert (
        kept == ["reich"] and language is not None and (language.code, language.source) == ("en", "default")
    )
    assert _judged(wordlist, languages, "Vi måste sluta nu", "sv")[0] == []  # a given lang still counts
