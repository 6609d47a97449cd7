"""Spellings a listed term is also written with (issue 11, item 2): its inflections and compounds, phonetic
spellings, consonant skeletons ("fck") and abbreviations ("mfers"). All of it is generated once, when the
index is built (index.py's `spell_terms` adds what this module returns to the tables it searches), so a
comment is still folded once and looked up, never expanded into variants.

What is generated, for a one-word key (letters a-z only) of a listed term:

- **inflections**: -s/-es, -ed/-d, -ing/-in/-n, -er/-ers, -y/-ies, and the compounds -head(s), -face(s),
  -hole(s); an ending e is dropped before a vowel ("whoring"). A key already ending with an inflection
  ("fucking", "pissed") takes none but -s; one ending in -er takes -s. Keys of three letters ("fat",
  "cum") take no ending that starts with a vowel: "fated", "cumin" are other words. A key
  that is a compound of a listed term ("fuckbitch", "shithead") takes only COMPOUND_KEY_ENDINGS.
- **phonetic spellings** (reject tier and personal insults, and their inflections): ck
  written k, c, q or x (kk, cc and xx are those once squeezed: "fuk", "phuccing" with the ph that index.py
  adds, "fuxxing"), an initial c written k ("kunt"), -itch written -iatch, -iotch, -yatch, -iyatch, -eyotch, tch
  written ch ("bich"), i between consonants written y ("shyt"), a listed term's -er written -a, -ah, -uh
  ("fucka"), a closing s after a vowel written z ("niggaz") and ss written zz ("azzhole").
- **skeletons**: the vowels left out, of the key and of its inflections and compounds ("fck", "fckng",
  "btchs"), of the stem alone before an ending ("fcking"), and of a compound's first listed part alone
  ("sshole", "fckwit"); each also with k for ck ("fkn"). A term of the ambiguous tier gets only these, of
  itself and with the compound endings ("dck", "dckhead"): its inflections share its innocent sense
  ("weeds", "muffs").
- **abbreviations**: a compound of an ordinary word and a listed term, written with the two initials and the
  ending ("motherfuckers" → "mfers").

Guards, all against the lexicons (lexicon.py), so that no common innocent word becomes a spelling:

- an inflection or compound more common than the listed term must be neither a word nor a token of its own
  (OWN_TOKEN_ZIPF): "retards" after "retard", "fooking" after "fook" yes; "spicy" after "spic",
  "Cummings" after "cumming" no;
- a review-tier term (mild words, mostly nouns with an innocent sense) takes only a plural, and one that is a
  word of its own only for a personal insult of MIN_REVIEW_PLURAL_WORD letters ("assholes" yes; "annals",
  "slopes", "fats" no);
- a phonetic spelling (of reject-tier terms only), skeleton or abbreviation must be no correctly spelt
  English word (the spelling lexicon: "fact", "shot" never), no ordinary token (wordfreq, Zipf >= 3), not
  what such a word squeezes to ("sking" is "skiing" squeezed), and RESPELLED_MARGIN rarer than its term
  ("cnt" yes; "ptr", "faqs", "mfr" are tokens of their own);
- a skeleton keeps at least MIN_SKELETON_CONSONANTS consonants once squeezed (y counting as a vowel);
  one of exactly that many ("fck", "sht", "dck") only for a term of the reject or ambiguous tier (the
  review tier holds mild words whose short skeletons are common abbreviations: "lst", "prn", "crp");
- a form that squeezes as another word does ("hells", "heels") is matched only as written (index.py);
- nothing generated may be another listed or allowed key.

What stays bounded: per key, a fixed number of endings, times at most PHONETIC_LIMIT phonetic spellings,
times a few skeletons each (about 10,500 spellings for the shipped list's 850 keys); index.py adds 'ph'
and placeholder variants for at most MAX_GENERATED_POSITIONS letters of each.
"""

from __future__ import annotations

import itertools
import re
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
REVIEW_ENDINGS = ("s", "es")
"""The endings of a review-tier term (mostly nouns with an innocent sense: "stripped", "sloping" are not
insults)."""
COMPOUND_KEY_ENDINGS = ("s", "es", "ed", "d", "ing", "er", "ers")
"""The endings of a key that is a compound of a listed term ("fuckbitch", "shithead")."""
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
OWN_TOKEN_ZIPF = 2.5
"""An inflection at least this common (and more common than its term) is a token of its own ("Cummings")."""
RESPELLED_MARGIN = 1.0
"""A respelling wordfreq knows must be at least this much rarer (Zipf) than its term: "fck" (2.3) for "fuck"
(5.4) and "cnt" (2.7) for "cunt" (4.1) yes; "ptr" for "puto", "faqs" for "fack", "mfr" for "mofo" no."""
RESPELLED_FLOOR = 1.8
"""A respelling rarer than this (Zipf) is never a token of its own, whatever its term ("muthafuckas")."""
MIN_REVIEW_PLURAL_WORD = 5
"""A review-tier personal insult's plural that is a word too needs this many letters in the term, squeezed
("assholes", "morons"; not "fats", "sobs")."""
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
    squeezed: Mapping[str, int]
    """How many words of `spelling` and `common` squeeze to each form ("hels": "heels", "hells")."""
    squeezed_all: Mapping[str, int]
    """The same over every word wordfreq knows too, names and web spellings ("coners": "Conners", "fck")."""
    zipf: Callable[[str], float]
    """How common a token is in English (wordfreq's Zipf scale, 0 when unknown)."""

    def is_word(self, form: str) -> bool:
        return form in self.spelling or form in self.common

    def collides(self, form: str) -> bool:
        """Whether a word other than `form` squeezes as it does ("hells" and "heels", "rapers" and
        "rappers", "cooners" and "Conners"): then `form` is matched only as written, never once squeezed."""
        known = self.is_word(form) or self.rank(form) < self.rank("")
        return self.squeezed_all.get(nz.squeeze(form), 0) > (1 if known else 0)

    def collides_with_word(self, form: str) -> bool:
        """Whether a word of `spelling` or `common` other than `form` squeezes as it does ("cumings" and
        "Cummings")."""
        return self.squeezed.get(nz.squeeze(form), 0) > (1 if self.is_word(form) else 0)


def squeezed_counts(words: Iterable[str]) -> dict[str, int]:
    """For `Lexicon.squeezed`: how many of `words` squeeze to each form."""
    out: dict[str, int] = {}
    for w in set(words):
        q = nz.squeeze(w)
        out[q] = out.get(q, 0) + 1
    return out


@dataclass(slots=True)
class Generated:
    """Spellings generated for the keys: unsqueezed form → keys, by kind, and counts for the report."""

    whole: dict[str, set[str]] = field(default_factory=dict)
    """Forms matched as whole tokens (inflections, phonetic spellings, skeletons, abbreviations)."""
    skeletons: set[str] = field(default_factory=set)
    """The skeletons of the listed keys themselves ("fcker" of "fucker"): candidates for matching inside a
    longer word ("@ssfcker"), where index.py finds no ordinary word holding them."""
    own: dict[str, set[str]] = field(default_factory=dict)
    """Forms generated from a key itself, not from its inflections or compounds ("shthead" of "shithead",
    not of "shite" + "head"): where a form has such keys, it stands for them alone."""
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
    if ending == "s" and stem.endswith(("s", "x", "z", "ch", "sh")):
        return None  # -es
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
    if len(key) <= 3:
        return tuple(e for e in ENDINGS if e[0] not in "aeiouy") + COMPOUND_ENDINGS
    return ENDINGS + COMPOUND_ENDINGS


_I_BETWEEN_CONSONANTS = re.compile(r"(?<=[^aeiouy])i(?=[^aeiouy])")


def phonetic(form: str, er: bool = True) -> set[str]:
    """`form` spelt as said (module docstring), at most PHONETIC_LIMIT spellings, `form` among them. The
    -er endings only with `er` (a listed term's own -er: "fucker" → "fucka"; not one generated: "sluter"
    → "sluta", Swedish for "stop")."""
    out = {form}
    if "ck" in form:
        out |= {form.replace("ck", r) for r in ("k", "c", "q", "x")}  # kk, cc, xx: squeezed, the same
    if form.startswith("c") and not form.startswith("ch"):
        out |= {"k" + f[1:] for f in out}  # "kunt"
    if "itch" in form:
        out |= {f.replace("itch", r) for f in out for r in ("iatch", "iotch", "yatch", "iyatch", "eyotch")}
    if "tch" in form:
        out |= {f.replace("tch", "ch") for f in out}
    if "i" in form:
        out |= {_I_BETWEEN_CONSONANTS.sub("y", f) for f in out}  # "shyt", "bytch"
    for f in list(out) if er else ():
        if f.endswith("ers"):
            out |= {f[:-3] + e for e in ("as", "az", "ahs")}
        elif f.endswith("er"):
            out |= {f[:-2] + e for e in ("a", "ah", "uh")}
    for f in list(out):
        if f.endswith(("as", "es", "os")):  # "niggaz", "bitchez"; not "kuntz", a surname
            out.add(f[:-1] + "z")
        if "ss" in f:
            out.add(f.replace("ss", "zz"))
    return set(sorted(out, key=lambda f: (f != form, len(f), f))[:PHONETIC_LIMIT])


def skeleton(form: str) -> str:
    """`form` without its vowels ("fucking" → "fckng")."""
    return "".join(c for c in form if c not in VOWELS)


def _consonants_ok(form: str, tier: str) -> bool:
    """Whether a skeleton keeps enough consonants once squeezed (y counts as a vowel: "pssy" → "psy" no)."""
    n = sum(c not in "aeiouy" for c in nz.squeeze(form))
    return n > MIN_SKELETON_CONSONANTS or (n == MIN_SKELETON_CONSONANTS and tier in SKELETON_TIERS)


def _listed_prefix(key: str, keys: frozenset[str]) -> str | None:
    """The longest listed key of at least three letters that `key` is a compound of: `key` starts with it
    and goes on with at least three letters that are no inflection ("fuckwit", "shithead"; not "fucking",
    "fuckers", which are inflected, not compounded)."""
    for n in range(len(key) - 3, 2, -1):
        if key[:n] in keys:
            rest = key[n:]
            return None if rest in ENDINGS or rest in ("ings", "iest", "ier") else key[:n]
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


def _skeletons(form: str, prefix: str | None) -> set[str]:
    """A form's skeletons: all of it, its stem with the ending as written ("fcking"), and its first listed
    part with the rest as written ("sshole"); each also with k for ck ("fkn", from "fuckin" said "fukin")."""
    out = {skeleton(form)}
    if prefix is not None and form.startswith(prefix):
        out.add(skeleton(prefix) + form[len(prefix) :])
    for ending in ENDINGS + COMPOUND_ENDINGS:
        if form.endswith(ending) and len(form) > len(ending) + 2:
            out.add(skeleton(form[: -len(ending)]) + ending)
    return out | {sk.replace("ck", "k") for sk in out if "ck" in sk}


def generate(
    terms: Mapping[str, tuple[str, str, str]],
    lexicon: Lexicon,
    excluded: Iterable[str] = (),
) -> Generated:
    """The spellings of every one-word key of `terms` (key → its listed spelling, tier, clause); never one of
    `excluded` (allowed keys) or of the keys themselves."""
    keys = frozenset(terms)
    taken = keys | frozenset(excluded)
    out = Generated()
    unknown = lexicon.rank("")  # the rank of a token wordfreq does not know

    def guard_word(form: str, term_zipf: float) -> bool:
        """A phonetic spelling, skeleton or abbreviation: no word, no ordinary token, nothing a word squeezes
        to, not taken, and much rarer than its term (else it is a token of its own: "ptr", "faqs")."""
        q = nz.squeeze(form)
        if (
            form in taken
            or lexicon.is_word(form)
            or q in lexicon.squeezed
            or any(
                lexicon.rank(f) < unknown
                and lexicon.zipf(f) > max(RESPELLED_FLOOR, term_zipf - RESPELLED_MARGIN)
                for f in {form, q}
            )
        ):
            out.rejected += 1
            return False
        return True

    def add_skeletons(
        forms: Iterable[str], key: str, tier: str, prefix: str | None, own: bool, term_zipf: float
    ) -> None:
        for form in forms:
            for sk in _skeletons(form, prefix):
                # Three consonants make a skeleton only where the word starts with the first ("fck"; not
                # "rsd" of "arsed": too little is left to read it by).
                if form[0] in VOWELS and not _consonants_ok(sk, ""):
                    continue
                if sk != form and _consonants_ok(sk, tier) and guard_word(sk, term_zipf):
                    out.add(sk, key)
                    if own:
                        out.skeletons.add(sk)
                        out.own.setdefault(sk, set()).add(key)

    for key, (listed, tier, clause) in sorted(terms.items()):
        if not _letters(key) or len(key) < 3:
            continue
        prefix = _listed_prefix(key, keys)
        term_zipf = lexicon.zipf(listed if _letters(listed) else key)
        if tier == "ambiguous":
            # Its innocent sense carries over to its inflections ("weeds", "muffs"): only its skeleton, which
            # has none, alone and in compounds ("dck", "dckhead").
            sk = skeleton(key)
            if sk != key and _consonants_ok(sk, tier) and guard_word(sk, term_zipf):
                out.add(sk, key)
                for ending in COMPOUND_ENDINGS:
                    if guard_word(sk + ending, term_zipf):
                        out.add(sk + ending, key)
            continue
        term_rank = lexicon.rank(listed if _letters(listed) else key)
        # Inflections and compounds: rarer than the listed term.
        inflected: set[str] = set()
        compounds: set[str] = set()
        # A compound of a listed term ("fuckbitch") is inflected, not compounded or respelled again. A review
        # term only takes a plural, which must be no word of its own unless the term is a personal insult
        # ("assholes"; not "annals", "slopes", "luster").
        endings: tuple[str, ...]
        if tier == "review":
            endings = REVIEW_ENDINGS
        else:
            endings = endings_for(key) if prefix is None else COMPOUND_KEY_ENDINGS
        for ending in endings:
            form = inflect(key, ending)
            if form is None or form in taken:
                continue
            # More common than the term and a word or token of its own ("Cummings", not "fooking").
            common_own = lexicon.rank(form) < term_rank and (
                lexicon.is_word(form) or lexicon.zipf(form) >= OWN_TOKEN_ZIPF
            )
            if common_own or (
                tier == "review"
                and lexicon.is_word(form)
                and (clause != "personal" or len(nz.squeeze(key)) < MIN_REVIEW_PLURAL_WORD)
            ):
                out.rejected += 1
                continue
            (compounds if ending in COMPOUND_ENDINGS else inflected).add(form)
            out.add(form, key)
        # Phonetic spellings of a reject term or personal insult and its inflections ("dikhead", "azzholes").
        for form in sorted(inflected | {key}) if tier == "reject" or clause == "personal" else ():
            for p in phonetic(form, er=key.endswith(("er", "ers"))):
                if p != form and guard_word(p, term_zipf):
                    out.add(p, key)
        # Skeletons of the key (also found inside words, see Generated.skeletons), its inflections and
        # compounds ("shthead").
        add_skeletons([key], key, tier, prefix, True, term_zipf)
        add_skeletons(sorted(inflected | compounds), key, tier, prefix, False, term_zipf)
        # Abbreviated compounds ("mfers").
        for form in sorted(inflected | {key}):
            for ab in _abbreviations(form, keys, lexicon.common):
                if len(nz.squeeze(ab)) >= MIN_ABBREVIATION and guard_word(ab, term_zipf):
                    out.add(ab, key)
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
