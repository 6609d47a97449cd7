import dataclasses

import pytest

from service.moderation.types import Clause, WordlistTier
from service.wordlist.index import NO_ROLES, Hit, select_terms
from service.wordlist.matcher import WordList
from service.wordlist.rules import Entry, WordListError


def _entry(term: str, tier: WordlistTier, clause: Clause = "obscene") -> Entry:
    return Entry(term, tier, None if tier == "allow" else clause, stem=False, source="test")


def test_the_index_is_immutable(wordlist: WordList) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        wordlist.index.version = "another"  # type: ignore[misc]


def test_each_key_reports_its_most_severe_entry() -> None:
    terms = select_terms({"fück": _entry("fück", "reject", "personal"), "fuck": _entry("fuck", "review")})
    assert [(t.key, t.term, t.tier, t.clause) for t in terms.by_key.values()] == [
        ("fuck", "fück", "reject", "personal")
    ]
    # Of equally severe entries, the one spelled like the key.
    terms = select_terms({"fück": _entry("fück", "reject"), "fuck": _entry("fuck", "reject")})
    assert terms.by_key["fuck"].term == "fuck"


def test_an_allowed_spelling_allows_every_spelling_of_its_key() -> None:
    terms = select_terms(
        {"fuck": _entry("fuck", "reject"), "fück": _entry("fück", "allow"), "shit": _entry("shit", "review")}
    )
    assert list(terms.by_key) == ["shit"] and terms.allowed == {"fuck"}


def test_an_entry_without_letters_is_refused() -> None:
    with pytest.raises(WordListError, match="no letters"):
        select_terms({"***": _entry("***", "reject")})


def test_the_vocabulary_holds_what_the_search_would_answer(wordlist: WordList) -> None:
    # The prefilter trusts these answers instead of asking: they must be the per-token search's own.
    forms, vocabulary = wordlist.index.forms, wordlist.index.vocabulary
    for token in sorted(vocabulary.clean)[::499]:
        assert forms.token_roles(token) == NO_ROLES and forms.token_hits(token) == ()
    for token, roles in vocabulary.roles.items():
        assert roles == forms.token_roles(token) != NO_ROLES
        assert (token in vocabulary.hits) == roles.dirty
    for token, hits in vocabulary.hits.items():
        assert hits == forms.token_hits(token)
    assert vocabulary.clean <= vocabulary.clean_or_half
    assert not vocabulary.clean_or_half & set(vocabulary.hits)


def test_token_hits_are_spans_within_the_token(wordlist: WordList) -> None:
    hits = wordlist.index.forms.token_hits("youfuckingidiot")
    assert Hit(3, 10, "fucking", "joined") in hits and all(type(h) is Hit for h in hits)


def test_phrase_words_carry_their_phrase_bit(wordlist: WordList) -> None:
    forms = wordlist.index.forms
    bit = 1 << forms.phrases.words.index(("blow", "job"))
    assert forms.token_roles("blow").first & bit and forms.token_roles("job").last & bit
    assert not forms.token_roles("job").first & bit


def test_phrase_roles_are_the_per_phrase_comparisons(wordlist: WordList) -> None:
    # Phrases.roles looks a token's suffixes and prefixes up by word length; what it must give is, per phrase:
    # the token ends with its first word, is one of its middle words, begins with its last word.
    phrases = wordlist.index.forms.phrases

    def by_phrase(q: str) -> tuple[int, int, int]:
        first = middle = last = 0
        for number, words in enumerate(phrases.words):
            first |= q.endswith(words[0]) << number
            middle |= (q in words[1:-1]) << number
            last |= q.startswith(words[-1]) << number
        return first, middle, last

    words = sorted({w for phrase in phrases.words for w in phrase})
    tokens = {"", "I", "a", "xyz", *words}
    tokens |= (
        {w[1:] for w in words} | {w[:-1] for w in words} | {"x" + w for w in words} | {w + "x" for w in words}
    )
    tokens |= {a + b for a in words[::7] for b in words[::11]}
    assert any(phrases.roles(q) != (0, 0, 0) for q in tokens)
    for q in sorted(tokens):
        assert phrases.roles(q) == by_phrase(q), q


def test_benign_words_hold_a_term_and_are_no_derivative(wordlist: WordList) -> None:
    benign = wordlist.index.benign
    # ("cocktail" no longer needs to be one: "cock" is of the ambiguous tier, matched as a whole word only.)
    assert {"scunthorpe", "shiitake"} <= benign.words and "cocktail" not in benign.words
    # Derivatives of the stem "shit": one begins with it, the other ends with it and an inflection.
    assert not {"shitstorm", "bullshits"} & benign.words
    assert "scunthorpe" in wordlist.index.vocabulary.plain_benign
    assert benign.covers("a scunthorpe", 3, 7) and not benign.covers("a cunt horpe", 2, 6)
