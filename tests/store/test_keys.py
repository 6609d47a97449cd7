from __future__ import annotations

import hashlib
import re

import pytest

from service.store.keys import Keys, verdict_digest

BASE = ("you are nice", "policy-2024-06", "rules-3", "unitary/toxic-bert@abc123")


def test_verdict_key_is_prefix_then_verdict_then_digest() -> None:
    assert Keys().verdict("ab12") == "moderation:verdict:ab12"
    assert Keys("site-a:").verdict("ab12") == "site-a:verdict:ab12"


def test_digest_is_sha256_over_the_documented_json_list() -> None:
    # Pinned on purpose: a change here changes every cache key, so it must be deliberate (bump the scheme).
    encoded = b'["verdict/v1","you are nice","policy-2024-06","rules-3","unitary/toxic-bert@abc123"]'
    expected = hashlib.sha256(encoded).hexdigest()
    assert verdict_digest(*BASE) == expected
    assert expected == "f07e3659589d16f6ddcd1b123fb2db00ac57569fb831bd983dd3d555883a02ae"
    assert re.fullmatch(r"[0-9a-f]{64}", expected)


@pytest.mark.parametrize("changed", range(4))
def test_each_of_the_four_inputs_changes_the_digest(changed: int) -> None:
    parts = list(BASE)
    parts[changed] += "x"
    assert verdict_digest(*parts) != verdict_digest(*BASE)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (("a|b", "c", "r", "m"), ("a", "b|c", "r", "m")),  # a separator inside the text
        (("ab", "", "r", "m"), ("a", "b", "r", "m")),  # plain concatenation
        (('a","b', "c", "r", "m"), ("a", 'b","c', "r", "m")),  # quotes that would break naive JSON
        (("a\\", "b", "r", "m"), ("a", "\\b", "r", "m")),  # backslashes
    ],
)
def test_boundaries_between_inputs_cannot_be_shifted(left: tuple[str, ...], right: tuple[str, ...]) -> None:
    assert verdict_digest(*left) != verdict_digest(*right)


def test_any_text_can_be_digested_and_unicode_forms_stay_distinct() -> None:
    # A lone surrogate can arrive through JSON ("\ud800"); str.encode("utf-8") would refuse it.
    assert verdict_digest("bad \ud800 text", *BASE[1:]) != verdict_digest("bad  text", *BASE[1:])
    # Folding is the normalizer's job; the key must not merge texts it was not given as equal.
    assert verdict_digest("caf\u00e9", *BASE[1:]) != verdict_digest("cafe\u0301", *BASE[1:])


def test_digest_refuses_non_strings() -> None:
    with pytest.raises(TypeError, match="model_id"):
        verdict_digest("text", "p", "r", None)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefix", ["", "has space:", "glob*:", "q?:"])
def test_prefix_must_be_usable_in_a_scan_pattern(prefix: str) -> None:
    with pytest.raises(ValueError):
        Keys(prefix)


@pytest.mark.parametrize("digest", ["", "a b"])
def test_verdict_refuses_an_empty_or_spaced_digest(digest: str) -> None:
    with pytest.raises(ValueError):
        Keys().verdict(digest)


def test_the_review_overflow_lives_beside_the_queue_under_the_prefix() -> None:
    keys = Keys("site-a:")
    assert (keys.review_queue(), keys.review_overflow(), keys.review_lost()) == (
        "site-a:review:queue",
        "site-a:review:overflow",
        "site-a:review:overflow:lost",
    )


def test_a_given_language_changes_the_digest_and_none_keeps_the_old_one() -> None:
    # Issue 11: "slut" sent as Swedish is another verdict than the same text sent as English or without lang.
    assert verdict_digest(*BASE, lang=None) == verdict_digest(*BASE)
    assert verdict_digest(*BASE, lang="sv") != verdict_digest(*BASE)
    assert verdict_digest(*BASE, lang="sv") != verdict_digest(*BASE, lang="en")
    with pytest.raises(TypeError):
        verdict_digest(*BASE, lang=1)  # type: ignore[arg-type]
