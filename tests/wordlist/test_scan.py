"""The C prefilter (service/wordlist/_scan.c, scan.py) answers what the Python set operations it replaces
answer, and `find` returns the same matches on either path.

Where the extension was not built (no C compiler at install), the tests of the C table skip saying so, and
the matcher runs the Python path, which the rest of the suite tests."""

from __future__ import annotations

import random
import re

import pytest
import wordfreq
from hypothesis import given, settings
from hypothesis import strategies as st

from service.wordlist import scan
from service.wordlist.matcher import _SPACED_UNSQUEEZED_RE, WordList

from .hostile import HOSTILE_OF_LENGTH

needs_c = pytest.mark.skipif(not scan.AVAILABLE, reason="the C prefilter was not built (no C compiler?)")


def python_answer(clean: frozenset[str], clean_or_half: frozenset[str], view: str) -> scan.Scanned:
    """What `Table.scan` must return for an ASCII view holding no whitespace but ' ' (scan.py's docstring)."""
    tokens = set(view.split())
    unknown = tokens - clean_or_half
    half = (tokens & clean_or_half) - clean
    spaced = _SPACED_UNSQUEEZED_RE.search(" " + view) is not None
    return (unknown or None, (half or None) if unknown else None, spaced)


@pytest.fixture(scope="module")
def small() -> tuple[frozenset[str], frozenset[str], scan.Scanner]:
    """A small vocabulary: some words clean, some half, one over the table's 255-byte limit, one non-ASCII."""
    clean = frozenset({"the", "cat", "sat", "a", "i", "on", "mat", "x" * 300, "café", "I"})
    clean_or_half = clean | {"blow", "job", "sc"}
    return clean, clean_or_half, scan.Scanner(clean, clean_or_half - clean)


@needs_c
def test_the_table_holds_the_ascii_words_up_to_255_bytes(small) -> None:
    _clean, clean_or_half, scanner = small
    assert scanner.size == len(clean_or_half) - 2  # not "x" * 300, not "café"
    # A word left out is unknown: the Python path then answers for it (slower, the same answer).
    assert scanner.scan("the " + "x" * 300) == ({"x" * 300}, None, False)


@needs_c
@pytest.mark.parametrize(
    "view",
    [
        "",
        "   ",
        "the cat sat on the mat",
        "the cat blow job",  # half words: reported only with an unknown token
        "the dog blow job job",
        "dog dog dog",
        "a b c",  # three single letters in a row
        "a  b   c the",
        "the a b",
        "a b 7 c",  # a digit breaks the run, as in the regex
        "I I I",
        "A B C",  # capitals other than I are not in the regex's class
        "ab c d e",
        "c d e",
        "the cat sat thecat",
        "cats",  # a prefix of nothing in the table, a word's extension
        "th",
        "\x00 the",  # NUL is no whitespace for str.split
        "the" + " x" * 2,
    ],
)
def test_scan_answers_what_the_set_operations_answer(small, view: str) -> None:
    clean, clean_or_half, scanner = small
    assert scanner.scan(view) == python_answer(clean, clean_or_half, view)


@needs_c
@pytest.mark.parametrize("view", ["the\tcat", "the\ncat", "a\x1cb", "le café", "the cat ᕙ", "naïve"])
def test_views_with_other_whitespace_or_other_characters_go_the_python_way(small, view: str) -> None:
    _clean, _clean_or_half, scanner = small
    assert scanner.scan(view) is None


@needs_c
@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["the", "cat", "blow", "job", "sc", "a", "b", "I", "dog", "catt", "", " "])))
def test_scan_matches_python_on_any_sequence_of_words(small, words: list[str]) -> None:
    clean, clean_or_half, scanner = small
    view = " ".join(words)
    assert scanner.scan(view) == python_answer(clean, clean_or_half, view)


@needs_c
def test_scan_matches_python_on_the_shipped_vocabulary(wordlist: WordList) -> None:
    """Words of the vocabulary, near misses (a letter dropped or added), numbers folded to letters."""
    vocabulary = wordlist.index.vocabulary
    clean, clean_or_half = vocabulary.clean, vocabulary.clean_or_half
    scanner = scan.Scanner(clean, clean_or_half - clean)
    rng = random.Random(11)
    words = [w for w in wordfreq.top_n_list("en", 30_000) if w.isascii() and " " not in w]
    half = sorted(clean_or_half - clean)
    checked = 0
    for _ in range(400):
        picked = []
        for _ in range(rng.randint(1, 40)):
            w = rng.choice(half) if rng.random() < 0.1 else rng.choice(words)
            roll = rng.random()
            if roll < 0.05 and len(w) > 1:
                w = w[:-1]
            elif roll < 0.1:
                w += rng.choice("aesx")
            elif roll < 0.15:
                w = rng.choice("abcI")
            picked.append(w)
        view = wordlist.index.tables.match_view(" ".join(picked))[1]
        got = scanner.scan(view)
        if view.isascii():
            assert got == python_answer(clean, clean_or_half, view), view
            checked += 1
    assert checked > 350


def test_find_is_the_same_on_both_paths(wordlist: WordList) -> None:
    """The C prefilter changes no match: the shipped list's engine with it and without it, on ordinary
    text, listed terms plain and disguised, phrases, runs of single letters and the hostile inputs."""
    python_only = WordList(wordlist.index, c_scan=False)
    assert python_only._scan is None
    texts = [
        "what a lovely day in Scunthorpe",
        "you are a f u c k i n g idiot",
        "f f u u c c k k you",
        "this is bullshit and a shitstorm",
        "blow job",
        "he gave a blow to the job centre",
        "a$$hole and @sshole and a s s h o l e",
        "cocktail assassin classic",
        "Das war sehr erfolgreich",
        "motherfucker!!!",
        "ｆｕｃｋ this",
        "the cat\tsat\non the mat",
    ]
    rng = random.Random(5)
    for text in HOSTILE_OF_LENGTH.values():
        texts.append(text(1_000))
    words = wordfreq.top_n_list("en", 5_000)
    for _ in range(200):
        texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(1, 60))))
    for text in texts:
        assert wordlist.find(text) == python_only.find(text), text


@needs_c
def test_the_c_table_is_used_where_it_was_built(wordlist: WordList) -> None:
    assert wordlist._scan is not None
    assert WordList(wordlist.index)._scan is not None


def test_without_the_extension_the_python_path_runs(wordlist: WordList, monkeypatch) -> None:
    monkeypatch.setattr(scan, "AVAILABLE", False)
    plain = WordList(wordlist.index)
    assert plain._scan is None
    assert [m.term for m in plain.find("what a shitstorm")] == ["shit"]


def test_the_docstring_regex_is_the_matchers() -> None:
    # scan.py's C loop stands for this pattern; a change to it must change _scan.c too.
    assert _SPACED_UNSQUEEZED_RE.pattern == re.compile(r" [a-zI] +[a-zI] +[a-zI](?![^ ])").pattern
