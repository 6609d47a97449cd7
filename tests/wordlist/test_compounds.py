"""Precision from the lexicons (issue 11, item 1): a term inside a longer word counts only where it is a part
of the word ("shit|storm"), never across the parts of a compound ("sal|twat|er") or inside a name."""

import pytest

from service.wordlist import compounds
from service.wordlist.matcher import WordList
from tests.moderation.test_why import INNOCENT_WORDS


@pytest.fixture(scope="module")
def parts() -> compounds.Parts:
    return compounds.parts_table()


def _true_part(word: str, term: str, parts: compounds.Parts, min_part: int = 3) -> bool:
    at = word.index(term)
    return compounds.is_true_part(word, at, at + len(term), parts, compounds.SUFFIXES, min_part)


@pytest.mark.parametrize(
    ("word", "term"),
    [
        ("shitstorm", "shit"),
        ("bullshits", "shit"),  # with an inflection, and "bull|shits" beats "bulls|hits"
        ("dickheads", "dick"),
        ("fuckface", "fuck"),
        ("horseshit", "shit"),
        ("dipshit", "shit"),  # a three-letter part in running text
        ("youfuckingidiot", "fucking"),
    ],
)
def test_a_term_that_is_a_part_of_the_word_is_a_true_part(
    word: str, term: str, parts: compounds.Parts
) -> None:
    assert _true_part(word, term, parts)


@pytest.mark.parametrize(
    ("word", "term"),
    [
        ("saltwater", "twat"),  # salt|water
        ("meltwater", "twat"),
        ("lightwater", "twat"),
        ("mishit", "shit"),  # "mis" is no word of the lexicon, "mi" too short
        ("swank", "wank"),
        ("wankel", "wank"),
        ("scunthorpe", "cunt"),
        ("assholes", "asshole"),  # the term itself, inflected: no compound (the caller's question)
    ],
)
def test_a_term_across_parts_or_inside_a_word_is_no_true_part(
    word: str, term: str, parts: compounds.Parts
) -> None:
    assert not _true_part(word, term, parts)


def test_names_need_longer_parts(parts: compounds.Parts) -> None:
    assert _true_part("shitterton", "shitter", parts)  # "ton" is a word...
    assert not _true_part("shitterton", "shitter", parts, compounds.MIN_NAME_PART)  # ...too short in a name
    assert _true_part("shitstorm", "shit", parts, compounds.MIN_NAME_PART)


def test_a_split_is_linear_in_the_word(parts: compounds.Parts) -> None:
    word = "shit" + "storm" * 2000
    assert _true_part(word, "shit", parts)


@pytest.mark.parametrize(
    "text",
    [
        *INNOCENT_WORDS,  # the sentences
        "Shitterton floods every winter.",  # a name at the start of a sentence
        "The train stops at Penistone.",  # a term that is no stem, inside a name
    ],
)
def test_benign_words_and_names_are_accepted(wordlist: WordList, text: str) -> None:
    assert wordlist.find(text) == []
    assert wordlist.find_without_prefilter(text) == []


@pytest.mark.parametrize(
    ("text", "term", "written"),
    [
        ("what a shitstorm", "shit", "shit"),
        ("Shitstorm ahead for the council", "shit", "Shit"),  # capitalised, but a compound of long parts
        ("you youfuckingidiot", "fucking", "fucking"),
        ("utter bullshitting from the mayor", "bullshit", "bullshitt"),  # the doubled t: repeated letters
        ("another cuntish move", "cunt", "cunt"),
        ("the Twatwaffle in charge", "twat", "Twat"),
    ],
)
def test_derivatives_still_count(wordlist: WordList, text: str, term: str, written: str) -> None:
    found = [(m.term, m.text) for m in wordlist.find(text)]
    assert (term, written) in found


def test_a_disguised_name_is_no_name(wordlist: WordList) -> None:
    # Letters alone make a name: "Sh1tterton" hides a term behind a digit.
    assert [m.term for m in wordlist.find("The village of Sh1tterton floods")] == ["shitter"]
