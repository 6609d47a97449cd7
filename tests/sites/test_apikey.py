"""service/sites/apikey.py: the key's form, its randomness, and what is kept of it."""

from __future__ import annotations

import hashlib
import re

import pytest

from service.sites.apikey import is_key_id, is_site, key_digest, key_id_of, new_key

# The rule a secret scanner is given (gitleaks/trufflehog style): prefix, id, secret, nothing else.
SCANNER_RULE = re.compile(r"\bmod_[a-z0-9]{12}_[A-Za-z0-9]{43}\b")


def test_a_new_key_has_the_documented_form_and_carries_its_id() -> None:
    key_id, key = new_key()
    assert len(key) == 60 and key.startswith(f"mod_{key_id}_")
    assert SCANNER_RULE.fullmatch(key)
    assert key_id_of(key) == key_id and is_key_id(key_id)
    # Found where it leaked, in a line of a log or a config file, by the one rule.
    assert SCANNER_RULE.findall(f'headers = {{"X-API-Key": "{key}"}}') == [key]


def test_keys_do_not_repeat() -> None:
    keys = [new_key() for _ in range(2000)]
    assert len({k for _, k in keys}) == 2000 and len({i for i, _ in keys}) == 2000
    # Every secret character class turns up: the secret is drawn from all 62 letters and digits.
    secrets = "".join(k.split("_")[2] for _, k in keys)
    assert set(secrets) == set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "mod_",
        "mod_abc_def",
        "MOD_" + "a" * 12 + "_" + "A" * 43,
        "mod_" + "A" * 12 + "_" + "A" * 43,  # ids are lower case
        "mod_" + "a" * 12 + "_" + "A" * 42,
        "mod_" + "a" * 12 + "_" + "A" * 44,
        "mod_" + "a" * 12 + "_" + "A" * 42 + "-",
        " mod_" + "a" * 12 + "_" + "A" * 43,
        "mod_" + "a" * 12 + "_" + "A" * 43 + "\n",
        "AIzaSyD-a-perspective-key",
        "sk-an-openai-key",
        "mod_" + "a" * 12 + "_" + "Ａ" * 43,  # noqa: RUF001 (full-width letters are not ours)
    ],
)
def test_anything_else_is_not_a_key_of_ours(text: str) -> None:
    assert key_id_of(text) is None


def test_the_digest_is_the_sha256_of_the_whole_key_and_any_text_has_one() -> None:
    _, key = new_key()
    assert key_digest(key) == hashlib.sha256(key.encode()).hexdigest()
    assert len(key_digest("\ud800 lone surrogate")) == 64  # never raises on what a client sends


@pytest.mark.parametrize("site", ["example.org", "a", "news-site_2", "A" * 64, "x.y.z"])
def test_site_names(site: str) -> None:
    assert is_site(site)


@pytest.mark.parametrize("site", ["", ".hidden", "-x", "a" * 65, "a b", "a:b", "a/b", "é.org", "a\n"])
def test_names_that_are_not_sites(site: str) -> None:
    assert not is_site(site)
