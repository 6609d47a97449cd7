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

from service.wordlist import normalize as nz
from service.wordlist import scan
from service.wordlist.index import NO_ROLES
from service.wordlist.matcher import _SPACED_REPEATED_RE, _SPACED_UNSQUEEZED_RE, WordList

from .hostile import HOSTILE_OF_LENGTH

needs_c = pytest.mark.skipif(not scan.AVAILABLE, reason="the C prefilter was not built (no C compiler?)")


def python_answer(clean: frozenset[str], clean_or_half: frozenset[str], view: str) -> scan.Scanned:
    """What `Table.scan` must return for an ASCII view holding no whitespace but ' ' (scan.py's docstring),
    where the table does not filter unknown tokens. The table holds the ASCII words up to 255 characters: a
    token equal to another word is unknown to it (the Python path then answers for it, the same answer)."""
    clean = frozenset(w for w in clean if w.isascii() and len(w) <= 255)
    clean_or_half = frozenset(w for w in clean_or_half if w.isascii() and len(w) <= 255)
    tokens = set(view.split())
    unknown = tokens - clean_or_half
    half = (tokens & clean_or_half) - clean
    runs = (_SPACED_UNSQUEEZED_RE.search(" " + view) is not None) | 2 * (
        _SPACED_REPEATED_RE.search(" " + view) is not None
    )
    return (unknown or None, (half or None) if unknown else None, runs)


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
    assert scanner.scan("the " + "x" * 300) == ({"x" * 300}, None, 0)


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
        "ff uu cc kk",  # runs of one letter repeated
        "ff u cc",
        "ff uv cc",
        "II ii a",
        "I I I",
        "A B C",  # capitals other than I are not in the regex's class
        "ab c d e",
        "c d e",
        "the cat sat thecat",
        "cats",  # a prefix of nothing in the table, a word's extension
        "th",
        "\x00 the",  # NUL is no whitespace for str.split
        "the" + " x" * 2,
        # Views that are not all ASCII: their ASCII tokens are asked as in any view, the others are unknown.
        "le café the cat",
        "the cat ᕙ",
        "naïve a b c",
        "пepeвoд the sat",
        "a é b c",
        "ﬀ ﬀ ﬀ",
        "I I I ᕙ",
        "the " + "x" * 300 + " é",
    ],
)
def test_scan_answers_what_the_set_operations_answer(small, view: str) -> None:
    clean, clean_or_half, scanner = small
    assert scanner.scan(view) == python_answer(clean, clean_or_half, view)


@needs_c
@pytest.mark.parametrize(
    "view", ["the\tcat", "the\ncat", "a\x1cb", "the\u00a0cat", "le\u3000café", "x\u2028y"]
)
def test_views_with_other_whitespace_go_the_python_way(small, view: str) -> None:
    _clean, _clean_or_half, scanner = small
    assert scanner.scan(view) is None


@needs_c
@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["the", "cat", "blow", "job", "sc", "a", "b", "I", "aa", "bbb", "dog", "catt", "", " "]
        )
    )
)
def test_scan_matches_python_on_any_sequence_of_words(small, words: list[str]) -> None:
    clean, clean_or_half, scanner = small
    view = " ".join(words)
    assert scanner.scan(view) == python_answer(clean, clean_or_half, view)


@needs_c
def test_scan_matches_python_on_the_shipped_vocabulary(wordlist: WordList) -> None:
    """Words of the vocabulary, near misses (a letter dropped or added), numbers folded to letters (the table
    without the filter of tokens that can take no part: tested below)."""
    vocabulary = wordlist.index.vocabulary
    clean, clean_or_half = vocabulary.clean, vocabulary.clean_or_half
    scanner = scan.Scanner(clean, clean_or_half - clean)
    assert not scanner.filtering
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


# The filter: an unknown token is left out of `unknown` only where token_roles answers NO_ROLES.
@pytest.fixture(scope="module")
def shipped(wordlist: WordList) -> scan.Scanner:
    scanner = scan.scanner_for(wordlist.index.vocabulary, wordlist.index.forms)
    assert scanner is not None and scanner.filtering
    return scanner


def _left_out_wrongly(wordlist: WordList, scanner: scan.Scanner, tokens: set[str]) -> list[str]:
    roles = wordlist.index.forms.token_roles
    return sorted(t for t in tokens if t and t.isascii() and not scanner.may_play(t) and roles(t) != NO_ROLES)


@needs_c
def test_no_vocabulary_word_that_takes_a_part_is_left_out(wordlist: WordList, shipped: scan.Scanner) -> None:
    """Every word of the vocabulary, asked as if unknown (430,000 tokens, their roles known to the index)."""
    words = set(wordlist.index.vocabulary.clean_or_half) | set(wordlist.index.vocabulary.roles)
    assert _left_out_wrongly(wordlist, shipped, words) == []


@needs_c
def test_no_term_spelling_with_anything_around_it_is_left_out(
    wordlist: WordList, shipped: scan.Scanner
) -> None:
    """Each listed spelling (short and long, as written and squeezed, phrase words) alone, repeated, masked,
    exclaimed, and glued to letters on either side."""
    forms = wordlist.index.forms
    spellings = set(forms.short_q_set) | set(forms.short_s_set) | set(forms.terms_automaton.keys())
    spellings |= set(forms.phrases.first) | set(forms.phrases.last) | set(forms.phrases.middle_of)
    rng = random.Random(3)
    tokens = set()
    for sp in spellings:
        tokens.add(sp)
        tokens.add(sp + nz.AMBIGUOUS)
        tokens.add("".join(c * rng.randint(1, 3) for c in sp))
        at = rng.randrange(len(sp))
        tokens.add(sp[:at] + nz.MASK + sp[at + 1 :])
        tokens.add(rng.choice(["x", "re", "un", "mega"]) + sp + rng.choice(["", "s", "ed", "ing", "y", "er"]))
        tokens.add(sp + rng.choice(["head", "face", "wit", "bag"]))
    tokens |= {c * n for c in "abcdefghijklmnopqrstuvwxyzI" for n in (2, 3, 7)}
    assert _left_out_wrongly(wordlist, shipped, tokens) == []


@needs_c
@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.sampled_from([*"abcdefghijklmnopqrstuvwxyz", "I", "*", ".", "ss", "ck", "uc", "it", "nt"]),
        min_size=1,
        max_size=12,
    ).map("".join)
)
def test_no_random_token_that_takes_a_part_is_left_out(
    wordlist: WordList, shipped: scan.Scanner, token: str
) -> None:
    assert _left_out_wrongly(wordlist, shipped, {token}) == []


@needs_c
def test_the_filter_leaves_out_most_misspellings(wordlist: WordList, shipped: scan.Scanner) -> None:
    """What the filter is for: misspelt common words, outside the vocabulary, mostly take no part."""
    rng = random.Random(8)
    roles = wordlist.index.forms.token_roles
    vocabulary = wordlist.index.vocabulary.clean_or_half
    misspelt = set()
    for word in wordfreq.top_n_list("en", 5_000):
        if len(word) >= 5 and word.isascii() and word.isalpha():
            at = rng.randrange(1, len(word) - 1)
            typo = word[:at] + word[at + 1 :] if rng.random() < 0.5 else word[:at] + word[at] + word[at:]
            if typo not in vocabulary:
                misspelt.add(typo)
    none = {t for t in misspelt if roles(t) == NO_ROLES}
    left_out = {t for t in none if not shipped.may_play(t)}
    assert len(misspelt) > 1_000
    assert len(left_out) > 0.6 * len(none)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"aabI  .x*", "é", "ᕙ", "\U0001f600"]), max_size=40))
def test_has_repeat_is_the_comparison_of_neighbours(text: str) -> None:
    assert nz.has_repeat(text) == nz._repeats_in_python(text)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from([*"aabIi  .x*zz"]), max_size=40))
def test_squeeze_runs_are_those_of_the_back_reference(text: str) -> None:
    """SQUEEZE_RUN_RE (a look-ahead, then a repeat of one character) finds the runs `([a-zI ])\\1+` finds."""
    plain = re.compile(r"([a-zI ])\1+")
    assert [m.span() for m in nz.SQUEEZE_RUN_RE.finditer(text)] == [m.span() for m in plain.finditer(text)]
