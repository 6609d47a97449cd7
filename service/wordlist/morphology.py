"""Spellings a listed term is also written with (issue 11, item 2): its inflections and compounds, phonetic
spellings, consonant skeletons ("fck") and abbreviations ("mfers"). All of it is generated once, when the
index is built (index.py's `spell_terms` adds what this module returns to the tables it searches), so a
comment is still folded once and looked up, never expanded into variants.

What is generated, for a one-word key (letters a-z only) of a listed term:

- **inflections**: -s/-es, -ed/-d, -ing/-in/-n, -er/-ers, -y/-ies, and the compounds -head(s), -face(s),
  -hole(s); an ending e is dropped before a vowel ("whoring"). A key already ending with an inflection
  ("fucking", "pissed") takes none but -s; one ending in -er takes -s. Short keys (three letters once
  squeezed: "fat", "cum") take no ending that starts with a vowel: "fated", "cumin" are other words.
- **phonetic spellings**: ck written k, c, q or kk ("fuk", "phuccing" with the ph that index.py adds), tch
  written ch ("bich"), a listed term's -er written -a, -ah, -uh ("fucka"), a closing s written z and ss
  written zz ("azz").
- **skeletons**: the vowels left out, of the key's stem and of every form above ("fck", "fckng", "fkn",
  "btchs"), and of a compound's first listed part alone ("sshole", "fckwit", "dckhead").
- **abbreviations**: a compound of an ordinary word and a listed term, written with the two initials and the
  ending ("motherfuckers" → "mfers").

Guards, all against the lexicons (lexicon.py), so that no common innocent word becomes a spelling:

- an inflection or compound that is a word of its own must be rarer than the listed term (wordfreq's rank):
  "retards" after "retard" yes; "spicy" after "spic", "cocky" after "cock" no;
- a phonetic spelling, skeleton or abbreviation must be no correctly spelt English word (the spelling
  lexicon: "fact", "shot" never) and no ordinary token (wordfreq, Zipf >= 3: "cnt" yes, "spc" no);
- a skeleton keeps at least MIN_SKELETON_CONSONANTS letters; one of exactly that many ("fck", "sht", "dck")
  only for a term of the reject or ambiguous tier (the review tier holds mild words whose short skeletons
  are common abbreviations: "lst", "prn", "crp");
- nothing generated may be another listed or allowed key.

What stays bounded: per key, a fixed number of endings, times at most PHONETIC_LIMIT phonetic spellings,
times two skeletons each; `Generated` reports the counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from service.wordlist import normalize as nz

VOWELS = frozenset("aeiou")
ENDINGS = ("s", "es", "ed", "d", "ing", "in", "n", "er", "ers", "y", "ies")
"""Inflectional endings added to a key (the applicable ones: see `inflect`)."""
COMPOUND_ENDINGS = ("head", "heads", "face", "faces", "hole", "holes")
"""Compounds that make a term an insult: "dickface", "shithead"."""
INFLECTED_ENDINGS = ("ing", "ings", "in", "ed", "s", "es")
"""A key ending with one of these is already inflected: it takes only -s (if that is not its ending)."""
ABBREVIATED_ENDINGS = ("er", "ers", "ing", "in", "ed", "a", "as", "az")
"""Endings that an abbreviated compound keeps: "mfer", "mfers", "mfing"."""
MIN_SKELETON_CONSONANTS = 3
"""A skeleton has at least this many letters (once squeezed)."""
MIN_PREFIX_WORD = 4
"""The ordinary word before a listed term in a compound that is abbreviated ("mother") has this many letters."""
MIN_ABBREVIATION = 4
"""An abbreviation has at least this many letters once squeezed ("mfer"; "bss" of "bullshits" is noise)."""
PHONETIC_LIMIT = 24
"""At most this many phonetic spellings per form (the product of the rules is cut here)."""
SKELETON_TIERS = frozenset({"reject", "ambiguous"})
"""Tiers whose terms may have three-letter skeletons."""


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What the guards ask: is a token a correctly spelt word, an ordinary token, how frequent is it."""

    spelling: frozenset[str]
    """pyspellchecker's English words (lexicon.spelling_words())."""
    common: frozenset[str]
    """wordfreq's words at Zipf >= 3 (index.dictionary())."""
    rank: Callable[[str], int]
    """A word's place in wordfreq's list, most frequent first (a large number when unknown)."""

    def is_word(self, form: str) -> bool:
        return form in self.spelling or form in self.common


@dataclass(slots=True)
class Generated:
    """Spellings generated for the keys: unsqueezed form → keys, by kind, and counts for the report."""

    whole: dict[str, set[str]] = field(default_factory=dict)
    """Forms matched as whole tokens (inflections, phonetic spellings, skeletons, abbreviations)."""
    skeletons: set[str] = field(default_factory=set)
    """The forms of `whole` that are skeletons or abbreviations (candidates for matching inside words)."""
    rejected: int = 0
    """Candidate forms the guards refused."""

    def add(self, form: str, key: str) -> None:
        self.whole.setdefault(form, set()).add(key)


def _letters(key: str) -> bool:
    return key.isascii() and key.isalpha() and key.islower()


def inflect(stem: str, ending: str) -> str | None:
    """`stem` with `ending`, spelt as English does, or None where the ending does not apply."""
    if ending == "ies":
        return stem[:-1] + "ies" if stem.endswith("y") and len(stem) > 2 else None
    if ending == "es":
        return stem + "es" if stem.endswith(("s", "x", "z", "ch", "sh")) else None
    if ending == "d":
        return stem + "d" if stem.endswith("e") else None
    if stem.endswith("y") and ending == "y":
        return None
    if stem.endswith("e") and ending[0] in "aeiouy":
        return stem[:-1] + ending
    return stem + ending


def endings_for(key: str) -> tuple[str, ...]:
    """The endings `key` takes (see the module's docstring)."""
    if key.endswith(INFLECTED_ENDINGS):
        return () if key.endswith("s") else ("s",)
    if key.endswith("er"):
        return ("s",)
    if len(nz.squeeze(key)) <= 3:
        return tuple(e for e in ENDINGS if e[0] not in "aeiouy") + COMPOUND_ENDINGS
    return ENDINGS + COMPOUND_ENDINGS


def phonetic(form: str, er: bool = True) -> set[str]:
    """`form` spelt as said (module docstring), at most PHONETIC_LIMIT spellings, `form` among them. The
    -er endings only with `er` (a listed term's own -er: "fucker" → "fucka"; not one generated: "sluter"
    → "sluta", Swedish for "stop")."""
    out = {form}
    if "ck" in form:
        out |= {form.replace("ck", r) for r in ("k", "c", "q", "kk")}
    if "tch" in form:
        out |= {f.replace("tch", "ch") for f in out}
    for f in list(out) if er else ():
        if f.endswith("ers"):
            out |= {f[:-3] + e for e in ("as", "az", "ahs")}
        elif f.endswith("er"):
            out |= {f[:-2] + e for e in ("a", "ah", "uh")}
    for f in list(out):
        if f.endswith("s") and not f.endswith("ss"):
            out.add(f[:-1] + "z")
        if "ss" in f:
            out.add(f.replace("ss", "zz"))
    return set(sorted(out, key=lambda f: (f != form, len(f), f))[:PHONETIC_LIMIT])


def skeleton(form: str) -> str:
    """`form` without its vowels ("fucking" → "fckng")."""
    return "".join(c for c in form if c not in VOWELS)


def _consonants_ok(form: str, tier: str) -> bool:
    n = len(nz.squeeze(form))
    return n > MIN_SKELETON_CONSONANTS or (n == MIN_SKELETON_CONSONANTS and tier in SKELETON_TIERS)


def _listed_prefix(key: str, keys: frozenset[str]) -> str | None:
    """The longest listed key of at least three letters that `key` starts with and is longer than."""
    for n in range(len(key) - 1, 2, -1):
        if key[:n] in keys:
            return key[:n]
    return None


def _abbreviations(key: str, keys: frozenset[str], common: frozenset[str]) -> set[str]:
    """ "motherfuckers" → "mfers": an ordinary word, then a listed key of four letters or more, then an ending."""
    out = set()
    for p in range(MIN_PREFIX_WORD, len(key) - 3):
        if key[:p] not in common:
            continue
        rest = key[p:]
        for n in range(4, len(rest) + 1):
            if rest[:n] in keys and rest[n:] in ABBREVIATED_ENDINGS:
                out.add(key[0] + rest[0] + rest[n:])
    return out


def generate(
    terms: Mapping[str, tuple[str, str]],
    lexicon: Lexicon,
    excluded: Iterable[str] = (),
) -> Generated:
    """The spellings of every one-word key of `terms` (key → (its listed spelling, its tier)); never one of
    `excluded` (allowed keys) or of the keys themselves."""
    keys = frozenset(terms)
    taken = keys | frozenset(excluded)
    out = Generated()

    def guard_word(form: str, key: str) -> bool:
        """A phonetic spelling, skeleton or abbreviation: no word, no ordinary token, not taken."""
        if form in taken or lexicon.is_word(form) or lexicon.is_word(nz.squeeze(form)):
            out.rejected += 1
            return False
        return True

    for key, (listed, tier) in sorted(terms.items()):
        if not _letters(key) or len(key) < 3:
            continue
        term_rank = lexicon.rank(listed if _letters(listed) else key)
        # Inflections and compounds: a word of their own only if rarer than the listed term.
        inflected = {key}
        for ending in endings_for(key):
            form = inflect(key, ending)
            if form is None or form in taken:
                continue
            if lexicon.is_word(form) and lexicon.rank(form) < term_rank:
                out.rejected += 1
                continue
            inflected.add(form)
            out.add(form, key)
        # Phonetic spellings of each of those.
        spoken = set(inflected)
        for form in inflected:
            for p in phonetic(form, er=key.endswith(("er", "ers"))):
                if p not in spoken and guard_word(p, key):
                    spoken.add(p)
                    out.add(p, key)
        # Skeletons: of the whole form, and of its first listed part with the rest as written.
        prefix = _listed_prefix(key, keys)
        for form in sorted(spoken):
            candidates = {skeleton(form)}
            if prefix is not None and form.startswith(prefix):
                candidates.add(skeleton(prefix) + form[len(prefix) :])
            for ending in ENDINGS + COMPOUND_ENDINGS:  # the stem without vowels, the ending as written
                if form.endswith(ending) and len(form) > len(ending) + 2:
                    candidates.add(skeleton(form[: -len(ending)]) + ending)
            for sk in candidates:
                if sk != form and _consonants_ok(sk, tier) and guard_word(sk, key):
                    out.add(sk, key)
                    out.skeletons.add(sk)
        # Abbreviated compounds ("mfers"), and their skeletons' plural.
        for form in sorted(inflected):
            for ab in _abbreviations(form, keys, lexicon.common):
                if len(nz.squeeze(ab)) >= MIN_ABBREVIATION and guard_word(ab, key):
                    out.add(ab, key)
                    out.skeletons.add(ab)
    return out


def bounded_variants(form: str, letters: str, limit: int, replacement: Callable[[str], str]) -> set[str]:
    """`form` with any of its `letters` replaced, every combination up to `limit` positions, beyond that only
    none or all replaced (the spellings stay bounded)."""
    positions = [i for i, c in enumerate(form) if c in letters]
    if len(positions) > limit:
        return {form, "".join(replacement(c) if c in letters else c for c in form)}
    out = set()
    for choice in itertools.product((False, True), repeat=len(positions)):
        chars = list(form)
        for pos, use in zip(positions, choice, strict=True):
            if use:
                chars[pos] = replacement(chars[pos])
        out.add("".join(chars))
    return out
