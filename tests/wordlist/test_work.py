"""The engine's work grows linearly with a comment's length (issue 10), counted by the engine itself
(`Work`: the characters each step passed over, plus one per candidate), so no clock is involved: the
inputs of the issue, and generators of hostile text at n and at 10 n characters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from service.wordlist.index import Work
from service.wordlist.matcher import WordList

from .hostile import HOSTILE, HOSTILE_OF_LENGTH
from .test_hostile_input import grown, shapes

WORK_PER_CHARACTER = 64
"""What the engine may do per character of a comment (matcher.py's bound; the most seen is about 40, on
"fuckers" written as one long word: several overlapping candidates at every letter)."""
GROWTH_SLACK = 1.5
"""work(10 n) <= GROWTH_SLACK * 10 * work(n): linear growth, with room for what the edges of a text add."""


def work_of(wordlist: WordList, text: str) -> int:
    """The engine's work on `text` seen for the first time (its token caches emptied first)."""
    wordlist.clear_token_cache()
    work = Work()
    wordlist.find(text, work)
    return work.chars


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_work_on_hostile_input_is_bounded_per_character(wordlist: WordList, text: str) -> None:
    assert work_of(wordlist, text) <= WORK_PER_CHARACTER * len(text)


@pytest.mark.parametrize("name", HOSTILE_OF_LENGTH.keys())
def test_work_on_hostile_input_grows_linearly(wordlist: WordList, name: str) -> None:
    make = HOSTILE_OF_LENGTH[name]
    assert work_of(wordlist, make(10_000)) <= GROWTH_SLACK * 10 * work_of(wordlist, make(1_000))


@settings(max_examples=60, deadline=None)
@given(shapes)
def test_work_grows_linearly_with_the_text(wordlist: WordList, shape: tuple[str, str, str]) -> None:
    n = max(1, 120 // len(shape[0] + shape[2]))  # about 250 characters, then about 2,500
    small, large = grown(shape, n), grown(shape, 10 * n)
    assert work_of(wordlist, large) <= GROWTH_SLACK * 10 * work_of(wordlist, small)
    assert work_of(wordlist, large) <= WORK_PER_CHARACTER * len(large)


def test_the_clean_fast_path_counts_one_pass(wordlist: WordList) -> None:
    # A comment of vocabulary words is answered by the prefilter: one pass, whatever its length.
    text = "the council met on tuesday to discuss the library " * 200
    assert work_of(wordlist, text) == len(text)
